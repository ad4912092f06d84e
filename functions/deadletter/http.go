package deadletter

import (
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// Listing bounds for GET /deadletters?limit=N.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// Routes adds the admin API. Every endpoint is for admins only: dead letters hold other users'
// orders, and a replay sends events into the saga.
func (f *Function) Routes(mux *http.ServeMux) {
	mux.Handle("GET /deadletters", httpapi.HandlerFunc(f.list))
	mux.Handle("GET /deadletters/{id}", httpapi.HandlerFunc(f.show))
	mux.Handle("POST /deadletters/{id}/replay", httpapi.HandlerFunc(f.replayOne))
	mux.Handle("POST /deadletters/replay", httpapi.HandlerFunc(f.replayMatching))
}

// admin authenticates r's caller and requires the admin role (401, then 403).
func (f *Function) admin(r *http.Request) error {
	p, err := f.verifier.Authenticate(r)
	if err != nil {
		return err
	}
	return auth.RequireAdmin(p)
}

// deadLetterList is the body of GET /deadletters.
type deadLetterList struct {
	DeadLetters []View `json:"dead_letters"`
}

func (f *Function) list(w http.ResponseWriter, r *http.Request) error {
	if err := f.admin(r); err != nil {
		return err
	}
	q := r.URL.Query()
	filter := Filter{Status: Status(q.Get("status")), Type: q.Get("type"), OrderID: q.Get("order"), Destination: q.Get("destination")}
	if err := filter.Validate(); err != nil {
		return err
	}
	limit := defaultListLimit
	if s := q.Get("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > maxListLimit {
			return apperr.Errorf(apperr.Invalid, "limit must be a number between 1 and %d", maxListLimit)
		}
	}
	all, err := store{db: f.Pool}.List(r.Context(), filter, limit)
	if err != nil {
		return err
	}
	out := deadLetterList{DeadLetters: make([]View, len(all))}
	for i, d := range all {
		out.DeadLetters[i] = d.view()
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (f *Function) show(w http.ResponseWriter, r *http.Request) error {
	if err := f.admin(r); err != nil {
		return err
	}
	id, err := idOf(r)
	if err != nil {
		return err
	}
	d, err := store{db: f.Pool}.Get(r.Context(), id)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, d.detail())
	return nil
}

// replayOne redelivers one dead letter now and answers 202 with how it went: the status says
// whether it was delivered, last_error why not. A delivered one is 409 unless ?force=true.
func (f *Function) replayOne(w http.ResponseWriter, r *http.Request) error {
	if err := f.admin(r); err != nil {
		return err
	}
	id, err := idOf(r)
	if err != nil {
		return err
	}
	force := false
	if s := r.URL.Query().Get("force"); s != "" {
		if force, err = strconv.ParseBool(s); err != nil {
			return apperr.Errorf(apperr.Invalid, "force must be true or false")
		}
	}
	d, err := f.Replay(r.Context(), id, force)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusAccepted, d.detail())
	return nil
}

// replayMatching replays every dead letter matching the JSON filter in the body (at most
// maxBulkReplay; delivered ones only when the filter's status is delivered) and answers 202
// with the counts.
func (f *Function) replayMatching(w http.ResponseWriter, r *http.Request) error {
	if err := f.admin(r); err != nil {
		return err
	}
	var filter Filter
	if err := httpapi.Decode(r, &filter); err != nil {
		return err
	}
	if err := filter.Validate(); err != nil {
		return err
	}
	res, err := f.ReplayMatching(r.Context(), filter)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusAccepted, res)
	return nil
}

// idOf is the {id} of r's path. Errors: apperr NotFound for anything that is not a UUID, as
// for an id that matches nothing.
func idOf(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, apperr.Errorf(apperr.NotFound, "dead letter not found")
	}
	return id, nil
}
