package order

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/httpapi"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/telemetry"
)

// api is the order REST API (docs/CONTRACTS.md, "REST").
type api struct {
	store    *Store
	relay    *outbox.Relay
	verifier *auth.Verifier
	schedule Schedule
	now      func() time.Time
}

func (a *api) routes(mux *http.ServeMux) {
	mux.Handle("POST /orders", httpapi.HandlerFunc(a.create))
	mux.Handle("GET /orders", httpapi.HandlerFunc(a.list))
	mux.Handle("GET /orders/{id}", httpapi.HandlerFunc(a.get))
	mux.Handle("POST /orders/{id}/cancel", httpapi.HandlerFunc(a.cancel))
}

// CreateRequest is the body of POST /orders.
type CreateRequest struct {
	Items []events.Line `json:"items"`
}

// publishTimeout bounds the publish after commit on the request path.
const publishTimeout = 2 * time.Second

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 200

// idempotencyKey is r's Idempotency-Key ("" for none). The IETF draft makes it a structured-field
// string: printable ASCII. Anything else is refused here rather than reaching PostgreSQL, where
// bytes that are not UTF-8 failed the insert (a 500 that a retry repeats). Errors: apperr
// Invalid, naming the rule broken but not echoing the key.
func idempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		return "", apperr.Errorf(apperr.Invalid, "Idempotency-Key is longer than %d characters", maxIdempotencyKey)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return "", apperr.Errorf(apperr.Invalid, "Idempotency-Key must be printable ASCII (byte %d is 0x%02x)", i, key[i])
		}
	}
	return key, nil
}

// create places an order for the caller: 202 with the order in status REQUESTED. The saga runs
// on from the outbox. A retry with the same Idempotency-Key returns the same order.
func (a *api) create(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.verifier.Authenticate(r)
	if err != nil {
		return err
	}
	var req CreateRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	if err := events.ValidateLines(req.Items); err != nil {
		return apperr.Errorf(apperr.Invalid, "%s", err.Error())
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	now := a.now()
	o := &Order{ID: uuid.NewString(), UserID: caller.UserID, Status: Requested, Items: req.Items, CreatedAt: now}
	requested, err := events.New(source, events.OrderRequestedV1{OrderID: o.ID, UserID: o.UserID, Items: o.Items})
	if err != nil {
		return err
	}
	telemetry.SetTraceParent(r.Context(), &requested) // the order's trace starts with this request
	// ORDER_REQUESTED is what the deadline republishes until inventory and payment have answered.
	if err := a.schedule.Start(o, requested, now); err != nil {
		return err
	}
	stored, created, err := a.store.Create(r.Context(), o, Idempotency{Key: key, Hash: hashRequest(req)}, requested)
	if err != nil {
		return err
	}
	if created {
		// The order is committed; if publishing fails or is slow now (Kafka down), the outbox
		// sweep publishes later: the client gets its 202 either way, without waiting on Kafka.
		ctx, cancel := context.WithTimeout(r.Context(), publishTimeout)
		defer cancel()
		if err := a.relay.Publish(ctx, requested); err != nil {
			slog.WarnContext(r.Context(), "publish after commit failed; left to the outbox sweep", "order", o.ID, "err", err)
		}
	}
	httpapi.WriteJSON(w, http.StatusAccepted, stored)
	return nil
}

// hashRequest fingerprints a create request for the Idempotency-Key check.
func hashRequest(req CreateRequest) []byte {
	h := sha256.New()
	for _, l := range req.Items {
		h.Write([]byte(l.SKU))
		h.Write([]byte{0})
		h.Write([]byte(strconv.FormatInt(l.Quantity, 10)))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// get returns one order: the caller's own, or any for an admin. Another user's order is 404, so
// ids cannot be probed.
func (a *api) get(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.verifier.Authenticate(r)
	if err != nil {
		return err
	}
	o, err := a.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if o.UserID != caller.UserID && !caller.IsAdmin() {
		return errNotFound
	}
	httpapi.WriteJSON(w, http.StatusOK, o)
	return nil
}

// Listing bounds for GET /orders?limit=N.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// list returns the caller's orders, newest first; an admin sees everyone's.
func (a *api) list(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.verifier.Authenticate(r)
	if err != nil {
		return err
	}
	limit := defaultListLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > maxListLimit {
			return apperr.Errorf(apperr.Invalid, "limit must be a number between 1 and %d", maxListLimit)
		}
	}
	owner := caller.UserID
	if caller.IsAdmin() {
		owner = ""
	}
	orders, err := a.store.List(r.Context(), owner, limit)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, orders)
	return nil
}
