package payment

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// Transaction statuses, as stored.
const (
	statusCompleted = "COMPLETED"
	statusFailed    = "FAILED"
)

// decider draws charge outcomes. Seeded, it replays one sequence, so a test that charges orders
// one after another gets the same outcomes every run; the mutex keeps that source safe under
// concurrent events. Unseeded, it uses the runtime's random source, already safe for concurrency.
type decider struct {
	rate float64
	mu   sync.Mutex
	rng  *rand.Rand // nil when unseeded
}

func newDecider(rate float64, seed *int64) *decider {
	d := &decider{rate: rate}
	if seed != nil {
		d.rng = rand.New(rand.NewPCG(uint64(*seed), 0))
	}
	return d
}

// approve draws one outcome: true with probability rate (Float64 is in [0, 1), so rate 1 always
// approves and rate 0 never does).
func (d *decider) approve() bool {
	if d.rng == nil {
		return rand.Float64() < d.rate
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rng.Float64() < d.rate
}

// transaction is one order's charge, as stored.
type transaction struct {
	OrderID     string `db:"order_id"`
	ID          string `db:"id"`
	AmountCents int64  `db:"amount_cents"`
	Status      string `db:"status"`
	Reason      string `db:"reason"`
}

// payload is the reply event's payload for t.
func (t transaction) payload() events.Payload {
	if t.Status == statusCompleted {
		return events.TransactionCompletedV1{OrderID: t.OrderID, TransactionID: t.ID, AmountCents: t.AmountCents}
	}
	return events.TransactionFailedV1{OrderID: t.OrderID, TransactionID: t.ID, AmountCents: t.AmountCents, Reason: t.Reason}
}

// store is the payment schema's queries, run on the event's transaction inside inbox.Process.
type store struct {
	db postgres.DBTX
}

// Charge records the charge of amount for orderID with the given outcome, unless the order has a
// transaction already (charged, declined or voided): then the stored one is returned and approved
// is ignored, so an order is never charged twice, whichever event asks.
// Errors are the database's (transient).
func (s store) Charge(ctx context.Context, orderID string, amount int64, approved bool) (transaction, error) {
	t := transaction{OrderID: orderID, ID: uuid.NewString(), AmountCents: amount, Status: statusCompleted}
	if !approved {
		t.Status, t.Reason = statusFailed, events.ReasonPaymentDeclined
	}
	return s.settle(ctx, t)
}

// settle stores t as its order's one transaction, or returns the transaction the order has
// already. Inserting first keeps the common case to one round trip; a concurrent first
// transaction of the same order makes the insert wait for it and then do nothing, and the
// following SELECT (a new snapshot under READ COMMITTED) sees its row. Errors are the
// database's (transient).
func (s store) settle(ctx context.Context, t transaction) (transaction, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO transactions (order_id, id, amount_cents, status, reason)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id) DO NOTHING`,
		t.OrderID, t.ID, t.AmountCents, t.Status, t.Reason)
	if err != nil {
		return transaction{}, fmt.Errorf("record transaction: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return t, nil
	}
	t, err = postgres.QueryOne[transaction](ctx, s.db, nil,
		`SELECT order_id, id::text AS id, amount_cents, status, reason FROM transactions WHERE order_id = $1`, t.OrderID)
	if err != nil {
		return transaction{}, fmt.Errorf("read transaction: %w", err)
	}
	return t, nil
}
