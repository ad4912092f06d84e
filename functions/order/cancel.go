package order

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/httpapi"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/postgres"
	"github.com/ordersaga/ordersaga/internal/telemetry"
)

// cancel is POST /orders/{id}/cancel: the owner (or an admin, as for GET) asks for the order to be
// cancelled. The order is not cancelled here: it records the request and sends payment
// ORDER_CANCEL_REQUESTED through the outbox, in the order row's transaction; payment's answer
// decides (docs/SAGA.md, the pivot). 202 with the order, still REQUESTED, also when the request
// was made before (nothing new is sent); 409 once payment has succeeded or the order is
// cancelled; another user's order is 404.
func (a *api) cancel(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.verifier.Authenticate(r)
	if err != nil {
		return err
	}
	var request *cloudevents.Event
	var stored *Order
	err = postgres.InTx(r.Context(), a.store.db, func(tx pgx.Tx) error {
		o, _, err := (&Store{db: tx}).Update(r.Context(), r.PathValue("id"), func(o *Order) (bool, error) {
			if o.UserID != caller.UserID && !caller.IsAdmin() {
				return false, errNotFound
			}
			request, err = requestCancel(o, events.ReasonCancelledByCustomer, a.schedule, a.now())
			return request != nil, err
		})
		stored = o
		if err != nil || request == nil {
			return err
		}
		return outbox.Add(r.Context(), tx, *request)
	})
	if err != nil {
		return err
	}
	if request != nil {
		ctx, cancel := context.WithTimeout(r.Context(), publishTimeout)
		defer cancel()
		if err := a.relay.Publish(ctx, *request); err != nil {
			slog.WarnContext(r.Context(), "publish after commit failed; left to the outbox sweep", "order", stored.ID, "err", err)
		}
	}
	httpapi.WriteJSON(w, http.StatusAccepted, stored)
	return nil
}

// requestCancel records on o that it asks payment to void it for reason, and starts the step
// whose event is that request (at now, by schedule). It returns ORDER_CANCEL_REQUESTED, for the
// caller to put in the outbox with o, or nil when a cancel was requested already: the first
// reason stands and nothing new is sent. Errors: Order.RequestCancel's (Conflict once payment has
// succeeded or the order is cancelled).
func requestCancel(o *Order, reason string, schedule Schedule, now time.Time) (*cloudevents.Event, error) {
	changed, err := o.RequestCancel(reason)
	if err != nil || !changed {
		return nil, err
	}
	e, err := events.New(source, events.OrderCancelRequestedV1{OrderID: o.ID, Reason: reason, TotalCents: o.TotalCents})
	if err != nil {
		return nil, err
	}
	// The request continues the order's trace: that of the step it takes over from.
	var previous cloudevents.Event
	if json.Unmarshal(o.nextEvent, &previous) == nil {
		if tp, ok := previous.Extensions()[telemetry.TraceParentExtension]; ok {
			e.SetExtension(telemetry.TraceParentExtension, tp)
		}
	}
	return &e, schedule.Start(o, e, now)
}
