package order

import (
	"bytes"
	"context"
	"fmt"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// Store keeps orders in the function's schema.
type Store struct {
	pool *pgxpool.Pool
}

const orderColumns = `id, user_id, status, items, inventory_reserved, total_cents, cancel_reason, tracking_id, created_at, updated_at`

// scanOrder scans orderColumns, after any extra leading columns into extra. Errors: NotFound.
func scanOrder(row pgx.Row, extra ...any) (*Order, error) {
	var o Order
	err := row.Scan(append(extra, &o.ID, &o.UserID, &o.Status, &o.Items, &o.InventoryReserved, &o.TotalCents,
		&o.CancelReason, &o.TrackingID, &o.CreatedAt, &o.UpdatedAt)...)
	if postgres.IsNoRows(err) {
		return nil, errNotFound
	}
	return &o, err
}

// Idempotency identifies a creating request: its Idempotency-Key (empty for none) and a hash of
// its body.
type Idempotency struct {
	Key  string
	Hash []byte
}

// Create stores o and, in the same transaction, the event announcing it in the outbox. When the
// user already created an order with the same idempotency key, it returns that order instead and
// created is false. Errors: Conflict when the key was used with a different request body.
func (s *Store) Create(ctx context.Context, o *Order, idem Idempotency, announce cloudevents.Event) (stored *Order, created bool, err error) {
	var key *string
	if idem.Key != "" {
		key = &idem.Key
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		stored, err = scanOrder(tx.QueryRow(ctx, `INSERT INTO orders (id, user_id, status, items, idempotency_key, request_hash)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (user_id, idempotency_key) DO NOTHING
			RETURNING `+orderColumns, o.ID, o.UserID, o.Status, o.Items, key, idem.Hash))
		if apperr.CodeOf(err) == apperr.NotFound { // the key was used before
			return s.replay(ctx, tx, o.UserID, idem, &stored)
		}
		if err != nil {
			return err
		}
		created = true
		return outbox.Add(ctx, tx, announce)
	})
	return stored, created, err
}

func (s *Store) replay(ctx context.Context, tx pgx.Tx, userID string, idem Idempotency, stored **Order) error {
	var hash []byte
	o, err := scanOrder(tx.QueryRow(ctx, `SELECT request_hash, `+orderColumns+` FROM orders
		WHERE user_id = $1 AND idempotency_key = $2`, userID, idem.Key), &hash)
	if err != nil {
		return err
	}
	if !bytes.Equal(hash, idem.Hash) {
		return apperr.Errorf(apperr.Conflict, "Idempotency-Key was already used for a different request")
	}
	*stored = o
	return nil
}

// errNotFound is NotFound for an order id that is not a UUID: no such order can exist, and
// PostgreSQL would refuse the id with an error that looks transient.
var errNotFound = apperr.Errorf(apperr.NotFound, "order not found")

// Get returns the order with id. Errors: NotFound.
func (s *Store) Get(ctx context.Context, id string) (*Order, error) {
	if uuid.Validate(id) != nil {
		return nil, errNotFound
	}
	return scanOrder(s.pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id))
}

// List returns up to limit orders, newest first: userID's, or everyone's when userID is empty.
func (s *Store) List(ctx context.Context, userID string, limit int) ([]*Order, error) {
	// Two statements rather than one with "$1 = '' OR user_id = $1": a prepared statement gets
	// one plan, and that plan could not use orders_by_user.
	var rows pgx.Rows
	var err error
	if userID == "" {
		rows, err = s.pool.Query(ctx, `SELECT `+orderColumns+` FROM orders ORDER BY created_at DESC, id LIMIT $1`, limit)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT `+orderColumns+` FROM orders
			WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2`, userID, limit)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Update locks the order with id inside tx, lets change modify it, and writes it back when
// change reports a change. It returns the order as it stands after change. Errors: NotFound, and
// whatever change returns.
func (s *Store) Update(ctx context.Context, tx postgres.DBTX, id string, change func(*Order) (bool, error)) (*Order, bool, error) {
	if uuid.Validate(id) != nil {
		return nil, false, errNotFound
	}
	o, err := scanOrder(tx.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, false, err
	}
	changed, err := change(o)
	if err != nil || !changed {
		return o, false, err
	}
	err = tx.QueryRow(ctx, `UPDATE orders SET status = $2, inventory_reserved = $3, total_cents = $4,
		cancel_reason = $5, tracking_id = $6, updated_at = now() WHERE id = $1 RETURNING updated_at`,
		o.ID, o.Status, o.InventoryReserved, o.TotalCents, o.CancelReason, o.TrackingID).Scan(&o.UpdatedAt)
	if err != nil {
		return nil, false, fmt.Errorf("update order %s: %w", id, err)
	}
	return o, true, nil
}
