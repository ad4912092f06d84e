package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/eventlog"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// traceTimeout bounds reading one order's trace from the topic.
const traceTimeout = 20 * time.Second

// timelines answers GET /console/api/orders/{id}/timeline[?since=]: the order's saga as
// `ordersctl events trace` shows it (each event, its source, the hop latency after the event it
// answers) with the trace id its events carry.
type timelines struct {
	src *EventSource
	// orders is the order function's base URL: it says first whether the caller may see the
	// order and when it was placed, so no topic is read for an order that is not theirs.
	orders string
	client *http.Client
	// reading holds a token per timeline being read: each reads the topic with its own client
	// for up to traceTimeout, so a few at a time keep the gateway and Kafka safe from a flood.
	reading chan struct{}
}

// concurrentTimelines is how many timelines one gateway reads at once; more get 429.
const concurrentTimelines = 4

// placedMargin is how long before the order's created_at the topic is read from: the clocks of
// the order function and the broker's records differ a little.
const placedMargin = time.Minute

func newTimelines(src *EventSource, orderURL string) timelines {
	return timelines{src: src, orders: strings.TrimSuffix(orderURL, "/"), client: &http.Client{Timeout: 10 * time.Second},
		reading: make(chan struct{}, concurrentTimelines)}
}

// placed asks the order function, as the caller, for order id: when it was placed. Errors: the
// function's own answer (404 for an order that does not exist or is another user's, 401) as an
// apperr, or Unavailable when it cannot be asked.
func (t timelines) placed(r *http.Request, id string) (time.Time, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, t.orders+"/orders/"+url.PathEscape(id), nil)
	if err != nil {
		return time.Time{}, apperr.Errorf(apperr.Invalid, "a bad order id")
	}
	req.Header.Set("Authorization", "Bearer "+auth.TokenFrom(r))
	resp, err := t.client.Do(req)
	if err != nil {
		slog.WarnContext(r.Context(), "console: the order function is unreachable", "err", err)
		return time.Time{}, apperr.Errorf(apperr.Unavailable, "the order function is unavailable; try again")
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusBadRequest:
		return time.Time{}, apperr.Errorf(apperr.NotFound, "no order %s", id)
	case http.StatusUnauthorized:
		return time.Time{}, apperr.Errorf(apperr.Unauthorized, "sign in first")
	default:
		return time.Time{}, apperr.Errorf(apperr.Unavailable, "the order function answered %d; try again", resp.StatusCode)
	}
	var order struct {
		CreatedAt time.Time `json:"created_at"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&order); err != nil {
		return time.Time{}, apperr.Errorf(apperr.Unavailable, "the order function's answer is not an order; try again")
	}
	return order.CreatedAt, nil
}

func (t timelines) serve(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if t.src == nil {
		httpapi.WriteError(w, r, apperr.Errorf(apperr.Unavailable, "the event stream is not configured on this gateway"))
		return
	}
	id := r.PathValue("id")
	if id == "" || len(id) > 200 {
		httpapi.WriteError(w, r, apperr.Errorf(apperr.Invalid, "an order id is required"))
		return
	}
	// ?since=RFC 3339: read the topic from then, not from its beginning (the page passes a
	// minute before the order was placed).
	var since time.Time
	if s := r.URL.Query().Get("since"); s != "" {
		var err error
		if since, err = time.Parse(time.RFC3339Nano, s); err != nil {
			httpapi.WriteError(w, r, apperr.Errorf(apperr.Invalid, "since must be an RFC 3339 time, e.g. 2026-12-04T10:00:00Z"))
			return
		}
	}
	placed, err := t.placed(r, id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if from := placed.Add(-placedMargin); since.Before(from) {
		since = from // nothing of the order is older: the topic is read from there at most
	}
	select {
	case t.reading <- struct{}{}:
		defer func() { <-t.reading }()
	default:
		httpapi.WriteError(w, r, httpapi.RetryAfter(apperr.Errorf(apperr.TooManyRequests, "too many timelines are being read; try again"), time.Second))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), traceTimeout)
	defer cancel()
	rd, err := eventlog.Open(ctx, t.src.Kafka, t.src.Topic)
	if err != nil {
		unavailable(w, r, err)
		return
	}
	defer rd.Close()
	tr, err := eventlog.ReadTrace(ctx, rd, id, since)
	switch {
	case errors.Is(err, eventlog.ErrNoEvents):
		httpapi.WriteError(w, r, apperr.Errorf(apperr.NotFound, "no events of order %s on the broker topic", id))
		return
	case err != nil:
		unavailable(w, r, err)
		return
	}
	// Another user's order is as absent as one that does not exist, as GET /orders/{id} has it.
	if !p.IsAdmin() && tr.UserID != p.UserID {
		httpapi.WriteError(w, r, apperr.Errorf(apperr.NotFound, "no events of order %s on the broker topic", id))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, tr)
}

// unavailable answers 503 for a topic that cannot be read, with the cause in the gateway's log
// only.
func unavailable(w http.ResponseWriter, r *http.Request, err error) {
	slog.WarnContext(r.Context(), "console: cannot read the broker topic", "err", err)
	httpapi.WriteError(w, r, apperr.Errorf(apperr.Unavailable, "the broker topic cannot be read right now; try again"))
}
