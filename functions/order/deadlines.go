package order

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// deadlineBatch bounds the orders one claim transaction takes.
const deadlineBatch = 200

// dueOrder is an overdue order as claimed, with the event that moves it on.
type dueOrder struct {
	Order
	NextEvent []byte `db:"next_event"`
}

// Deadlines drives every overdue order on (docs/SAGA.md): it republishes the order's next event
// unchanged (same id, so downstream inboxes answer with their stored replies) and sets the next
// deadline further out; a REQUESTED order past its final deadline is instead asked to be
// cancelled (ORDER_CANCEL_REQUESTED, reason "timeout"), which payment settles: an order is never
// cancelled here. Orders are claimed with FOR UPDATE SKIP LOCKED, so concurrent passes (replicas,
// the timer, the PingSource) never take the same order. The events go through the outbox and are
// published after commit, as ORDER_REQUESTED is. It returns how many orders it drove on.
// Errors are the database's; a failed publish is only logged, the outbox sweep sends it later.
func (f *Function) Deadlines(ctx context.Context) (int, error) {
	total := 0
	for {
		var publish []cloudevents.Event
		var claimed int
		err := postgres.InTx(ctx, f.Pool, func(tx pgx.Tx) error {
			var err error
			publish, claimed, err = f.driveDue(ctx, tx, f.now())
			return err
		})
		if err != nil {
			return total, err
		}
		total += len(publish)
		for _, e := range publish {
			if err := f.relay.Publish(ctx, e); err != nil {
				slog.WarnContext(ctx, "deadline: publish after commit failed; left to the outbox sweep", "order", e.Subject(), "type", e.Type(), "err", err)
			}
		}
		if claimed < deadlineBatch {
			return total, nil
		}
	}
}

// driveDue claims up to deadlineBatch orders overdue at now and moves each on, in tx. It returns
// the events to publish after commit and how many orders it claimed.
func (f *Function) driveDue(ctx context.Context, tx pgx.Tx, now time.Time) ([]cloudevents.Event, int, error) {
	due, err := postgres.QueryAll[dueOrder](ctx, tx, `SELECT `+orderColumns+`, next_event FROM orders
		WHERE deadline_at <= $1 ORDER BY deadline_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, deadlineBatch)
	if err != nil {
		return nil, 0, fmt.Errorf("claim overdue orders: %w", err)
	}
	store := &Store{db: tx}
	publish := make([]cloudevents.Event, 0, len(due))
	for i := range due {
		o := &due[i].Order
		next, err := f.nextStep(ctx, o, due[i].NextEvent, now)
		if err != nil {
			return nil, 0, err
		}
		if next != nil {
			if err := outbox.Requeue(ctx, tx, *next); err != nil {
				return nil, 0, err
			}
			publish = append(publish, *next)
		}
		if err := store.save(ctx, o); err != nil {
			return nil, 0, err
		}
	}
	return publish, len(due), nil
}

// nextStep decides what an overdue order o needs at now and updates its deadline: past the final
// deadline, a REQUESTED order gets a cancel request; otherwise its stored event is sent again.
// A stored event that does not decode can never be sent: like a quarantined outbox row, it is
// logged and the order's deadline dropped (nil event), so it does not hold back the other orders.
// Errors: building the cancel request (a bug).
func (f *Function) nextStep(ctx context.Context, o *Order, stored []byte, now time.Time) (*cloudevents.Event, error) {
	if f.schedule.PastFinal(o, now) { // REQUESTED and not asked yet: the request is always new
		request, err := requestCancel(o, events.ReasonTimeout, f.schedule, now)
		if err != nil || request == nil {
			return nil, fmt.Errorf("order %s: cancel request at the final deadline: %v", o.ID, err)
		}
		return request, nil
	}
	var next cloudevents.Event
	if err := json.Unmarshal(stored, &next); err != nil {
		slog.ErrorContext(ctx, "deadline: the order's next event does not decode; its deadline is dropped", "order", o.ID, "err", err)
		o.DeadlineAt = nil
		return nil, nil
	}
	f.schedule.Retry(o, now)
	return &next, nil
}
