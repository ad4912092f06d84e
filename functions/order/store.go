package order

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// Store keeps orders in the function's schema. It runs on the pool for REST requests and on the
// event's transaction inside inbox.Process. Driver errors are translated to apperr here and
// nowhere else; errors not named in a method's comment are plain (transient, 500).
type Store struct {
	db postgres.DBTX
}

// orderColumns are the columns an Order is mapped from, by its db tags.
const orderColumns = `id, user_id, status, items, inventory_reserved, total_cents, cancel_reason, tracking_id,
	cancel_requested_reason, deadline_at, deadline_attempts, created_at, updated_at`

// Idempotency identifies a creating request: its Idempotency-Key (empty for none) and a hash of
// its body.
type Idempotency struct {
	Key  string
	Hash []byte
}

// Create stores o (with its created_at, deadline and next event as set by the caller) and, in the
// same transaction, the event announcing it in the outbox: two round trips, the insert with BEGIN
// and the outbox row with COMMIT (postgres.InPipelinedTx). When the user already created an order
// with the same idempotency key, it returns that order instead and created is false. Errors:
// Conflict when the key was used with a different request body.
func (s *Store) Create(ctx context.Context, o *Order, idem Idempotency, announce cloudevents.Event) (stored *Order, created bool, err error) {
	var key *string
	if idem.Key != "" {
		key = &idem.Key
	}
	// Stored as given, so returned as given, at the precision PostgreSQL keeps.
	o.CreatedAt = o.CreatedAt.Truncate(time.Microsecond)
	o.UpdatedAt = o.CreatedAt
	if o.DeadlineAt != nil {
		due := o.DeadlineAt.Truncate(time.Microsecond)
		o.DeadlineAt = &due
	}
	insert := postgres.Statement{SQL: `INSERT INTO orders (id, user_id, status, items,
			idempotency_key, request_hash, deadline_at, next_event, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (user_id, idempotency_key) DO NOTHING`,
		Args: []any{o.ID, o.UserID, o.Status, o.Items, key, idem.Hash, o.DeadlineAt, o.nextEvent, o.CreatedAt}}
	err = postgres.InPipelinedTx(ctx, s.db, insert, insertedNow, func(tx postgres.DBTX) ([]postgres.Statement, error) {
		return nil, outbox.Add(ctx, tx, announce)
	})
	if errors.Is(err, errKeyUsed) {
		stored, err = s.replay(ctx, o.UserID, idem)
		if err != nil {
			return nil, false, fmt.Errorf("create order: %w", err) // a Conflict stays one
		}
		return stored, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("create order: %w", err)
	}
	return o, true, nil // every column not inserted is at its default, which o's zero values are
}

// replay returns the order the user created before with idem's key. Errors: Conflict when that
// request's body was another.
func (s *Store) replay(ctx context.Context, userID string, idem Idempotency) (*Order, error) {
	type keyed struct {
		RequestHash []byte `db:"request_hash"`
		Order
	}
	prev, err := postgres.QueryOne[keyed](ctx, s.db, errNotFound, `SELECT request_hash, `+orderColumns+` FROM orders
		WHERE user_id = $1 AND idempotency_key = $2`, userID, idem.Key)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(prev.RequestHash, idem.Hash) {
		return nil, apperr.Errorf(apperr.Conflict, "Idempotency-Key was already used for a different request")
	}
	return &prev.Order, nil
}

// errKeyUsed ends the transaction of an order whose Idempotency-Key was used before.
var errKeyUsed = errors.New("idempotency key used before")

// insertedNow is Create's check of its insert: nothing inserted means the key was used before.
func insertedNow(insert pgconn.CommandTag) error {
	if insert.RowsAffected() == 0 {
		return errKeyUsed
	}
	return nil
}

// errNotFound is the one NotFound for an order. An order id that is not a UUID gets it too: no
// such order can exist, and PostgreSQL would refuse the id with an error that looks transient.
var errNotFound = apperr.Errorf(apperr.NotFound, "order not found")

// Get returns the order with id. Errors: NotFound.
func (s *Store) Get(ctx context.Context, id string) (*Order, error) {
	if uuid.Validate(id) != nil {
		return nil, errNotFound
	}
	o, err := postgres.QueryOne[Order](ctx, s.db, errNotFound, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// List returns up to limit orders, newest first: userID's, or everyone's when userID is empty.
func (s *Store) List(ctx context.Context, userID string, limit int) ([]Order, error) {
	// Two statements rather than one with "$1 = '' OR user_id = $1": a prepared statement gets
	// one plan, and that plan could not use orders_by_user.
	if userID == "" {
		return postgres.QueryAll[Order](ctx, s.db, `SELECT `+orderColumns+` FROM orders ORDER BY created_at DESC, id LIMIT $1`, limit)
	}
	return postgres.QueryAll[Order](ctx, s.db, `SELECT `+orderColumns+` FROM orders
		WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2`, userID, limit)
}

// Update locks the order with id (SELECT ... FOR UPDATE, so s must run on a transaction), lets
// change modify it, and writes it back when change reports a change. It returns the order as it
// stands after change and whether it changed. Errors: NotFound, and whatever change returns.
func (s *Store) Update(ctx context.Context, id string, change func(*Order) (bool, error)) (*Order, bool, error) {
	if uuid.Validate(id) != nil {
		return nil, false, errNotFound
	}
	o, err := postgres.QueryOne[Order](ctx, s.db, errNotFound, `SELECT `+orderColumns+` FROM orders WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return nil, false, err
	}
	changed, err := change(&o)
	if err != nil || !changed {
		return &o, false, err
	}
	if err := s.save(ctx, &o); err != nil {
		return nil, false, err
	}
	return &o, true, nil
}

// save writes o's changeable columns back; next_event only when a transition set a new one. s
// must hold o's row lock (Update, or the deadline pass's claim). In an event's transaction the
// write travels with the COMMIT (postgres.ExecAtCommit): nothing after it reads the order.
// updated_at is the function's clock, as created_at is.
func (s *Store) save(ctx context.Context, o *Order) error {
	updated := time.Now().Truncate(time.Microsecond) // what PostgreSQL keeps of it
	err := postgres.ExecAtCommit(ctx, s.db, "update order "+o.ID, `UPDATE orders SET status = $2, inventory_reserved = $3, total_cents = $4,
		cancel_reason = $5, tracking_id = $6, cancel_requested_reason = $7, deadline_at = $8,
		deadline_attempts = $9, next_event = COALESCE($10, next_event), updated_at = $11
		WHERE id = $1`,
		o.ID, o.Status, o.InventoryReserved, o.TotalCents, o.CancelReason, o.TrackingID,
		o.CancelRequestedReason, o.DeadlineAt, o.DeadlineAttempts, o.nextEvent, updated)
	if err != nil {
		return err
	}
	o.UpdatedAt = updated
	return nil
}
