package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// store is the inventory schema's queries. It runs on a pool for REST reads and single-statement
// writes, and on the event's transaction inside inbox.Process. Driver errors are translated to
// apperr here and nowhere else; errors not named in a method's comment are plain (transient, 500).
//
// Lock order, the same in every transaction so that concurrent ones cannot deadlock: the inbox
// row (inbox.Process), then the order's reservation row, then item rows in sku order.
type store struct {
	db postgres.DBTX
}

// itemColumns are the columns an Item is mapped from, by its db tags.
const itemColumns = `sku, name, price_cents, available, reserved, sold`

// CreateItem stocks a new item with it.Available units. Errors: Conflict when the sku exists;
// Invalid when a value breaks a CHECK (callers validate first, so that is a bug caught late).
func (s store) CreateItem(ctx context.Context, it Item) (Item, error) {
	created, err := postgres.QueryOne[Item](ctx, s.db, nil,
		`INSERT INTO items (sku, name, price_cents, available) VALUES ($1, $2, $3, $4)
		 RETURNING `+itemColumns, it.SKU, it.Name, it.PriceCents, it.Available)
	switch {
	case postgres.IsUniqueViolation(err):
		return Item{}, apperr.Errorf(apperr.Conflict, "item %s already exists", it.SKU)
	case postgres.IsCheckViolation(err):
		return Item{}, errOutOfRange
	case err != nil:
		return Item{}, fmt.Errorf("create item: %w", err)
	}
	return created, nil
}

// UpdateItem applies u in one statement, so it never overwrites a concurrent reservation's
// change to reserved or sold. Errors: NotFound when the sku does not exist; Invalid as for
// CreateItem.
func (s store) UpdateItem(ctx context.Context, sku string, u ItemUpdate) (Item, error) {
	it, err := postgres.QueryOne[Item](ctx, s.db, errNoItem(sku),
		`UPDATE items SET name = coalesce($2, name), price_cents = coalesce($3, price_cents),
		        available = coalesce($4, available), updated_at = now()
		 WHERE sku = $1 RETURNING `+itemColumns, sku, u.Name, u.PriceCents, u.Quantity)
	switch {
	case apperr.CodeOf(err) == apperr.NotFound:
		return Item{}, err
	case postgres.IsCheckViolation(err):
		return Item{}, errOutOfRange
	case err != nil:
		return Item{}, fmt.Errorf("update item: %w", err)
	}
	return it, nil
}

// Item returns one item. Errors: NotFound.
func (s store) Item(ctx context.Context, sku string) (Item, error) {
	it, err := postgres.QueryOne[Item](ctx, s.db, errNoItem(sku), `SELECT `+itemColumns+` FROM items WHERE sku = $1`, sku)
	if apperr.CodeOf(err) == apperr.NotFound {
		return Item{}, err
	}
	if err != nil {
		return Item{}, fmt.Errorf("get item: %w", err)
	}
	return it, nil
}

// Items returns every item in sku order.
func (s store) Items(ctx context.Context) ([]Item, error) {
	items, err := postgres.QueryAll[Item](ctx, s.db, `SELECT `+itemColumns+` FROM items ORDER BY sku`)
	if err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	return items, nil
}

var errOutOfRange = apperr.Errorf(apperr.Invalid, "price_cents and quantity must not be negative")

func errNoItem(sku string) error { return apperr.Errorf(apperr.NotFound, "item %s not found", sku) }

// ClaimReservation creates the order's reservation row as r says, unless the order already has
// one, and reports whether it did. Claiming first takes the row lock that serializes every
// event of one order; a concurrent claim of the same order waits here for the first to commit and
// then sees its row.
func (s store) ClaimReservation(ctx context.Context, r Reservation) (bool, error) {
	tag, err := s.db.Exec(ctx,
		`INSERT INTO reservations (order_id, user_id, status, reason) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (order_id) DO NOTHING`, r.OrderID, r.UserID, r.Status, r.Reason)
	if err != nil {
		return false, fmt.Errorf("claim reservation: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Reservation returns the order's reservation. Errors: NotFound.
func (s store) Reservation(ctx context.Context, orderID string) (Reservation, error) {
	r, err := postgres.QueryOne[Reservation](ctx, s.db, apperr.Errorf(apperr.NotFound, "no reservation for order %s", orderID),
		`SELECT order_id, user_id, status, reason, sku, total_cents FROM reservations WHERE order_id = $1`, orderID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return Reservation{}, err
	}
	if err != nil {
		return Reservation{}, fmt.Errorf("get reservation: %w", err)
	}
	return r, nil
}

// ReservationLines returns the lines reserved for the order, in sku order.
func (s store) ReservationLines(ctx context.Context, orderID string) ([]events.Line, error) {
	lines, err := postgres.QueryAll[events.Line](ctx, s.db,
		`SELECT sku, quantity FROM reservation_lines WHERE order_id = $1 ORDER BY sku`, orderID)
	if err != nil {
		return nil, fmt.Errorf("get reservation lines: %w", err)
	}
	return lines, nil
}

// stock is a locked item's price and available units.
type stock struct {
	SKU        string `db:"sku"`
	PriceCents int64  `db:"price_cents"`
	Available  int64  `db:"available"`
}

// LockItems locks the rows of skus in sku order (the fixed order that keeps two orders with
// overlapping lines from deadlocking) and returns what they hold. Unknown skus are absent from
// the map. The locks last until the transaction ends, so the caller's decision stays true.
func (s store) LockItems(ctx context.Context, skus []string) (map[string]stock, error) {
	locked, err := postgres.QueryAll[stock](ctx, s.db,
		`SELECT sku, price_cents, available FROM items WHERE sku = ANY($1) ORDER BY sku FOR UPDATE`, skus)
	if err != nil {
		return nil, fmt.Errorf("lock items: %w", err)
	}
	found := make(map[string]stock, len(locked))
	for _, st := range locked {
		found[st.SKU] = st
	}
	return found, nil
}

// errStockMoved says a reservation found less stock than it was decided on: the rows were not
// locked as they must be. It is an internal error, so the transaction rolls back whole.
var errStockMoved = errors.New("stock changed under a held lock")

// Reserve moves each line's quantity from available to reserved, records the lines at the given
// prices and sets the reservation's total, in one statement that travels with the event's COMMIT
// (postgres.ExecAtCommit): nothing after it reads what it wrote. The item rows must be locked
// (LockItems) and checked. Should a line no longer fit all the same, the items' CHECK
// (available >= 0) fails the statement, and with it the whole transaction: nothing is taken.
// Errors, when it runs at once (outside an event's transaction): errStockMoved (Internal), or
// the database's.
func (s store) Reserve(ctx context.Context, orderID string, lines []events.Line, prices []int64, total int64) error {
	skus := make([]string, len(lines))
	qtys := make([]int64, len(lines))
	for i, l := range lines {
		skus[i], qtys[i] = l.SKU, l.Quantity
	}
	err := postgres.ExecAtCommit(ctx, s.db, "reserve stock for order "+orderID, `
		WITH taken AS (
			UPDATE items AS i SET available = i.available - l.qty, reserved = i.reserved + l.qty, updated_at = now()
			FROM unnest($2::text[], $3::bigint[]) AS l(sku, qty)
			WHERE i.sku = l.sku
		), recorded AS (
			INSERT INTO reservation_lines (order_id, sku, quantity, price_cents)
			SELECT $1, l.sku, l.qty, l.price FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS l(sku, qty, price)
		)
		UPDATE reservations SET total_cents = $5, updated_at = now() WHERE order_id = $1`,
		orderID, skus, qtys, prices, total)
	if postgres.IsCheckViolation(err) {
		return fmt.Errorf("%w: %w", errStockMoved, err)
	}
	return err
}

// Reject marks a claimed reservation REJECTED, with the reason and the sku that caused it. It
// travels with the event's COMMIT (postgres.ExecAtCommit). Errors, when it runs at once: the
// database's.
func (s store) Reject(ctx context.Context, orderID, reason, sku string) error {
	return postgres.ExecAtCommit(ctx, s.db, "reject reservation",
		`UPDATE reservations SET status = 'REJECTED', reason = $2, sku = $3, updated_at = now() WHERE order_id = $1`,
		orderID, reason, sku)
}

// Transition moves the order's reservation from RESERVED to status to, with the given reason, and
// reports whether it did. The condition on the current status makes the move happen once: a
// concurrent second attempt waits for the first's row lock, then finds the status changed.
func (s store) Transition(ctx context.Context, orderID string, to Status, reason string) (bool, error) {
	tag, err := s.db.Exec(ctx,
		`UPDATE reservations SET status = $2, reason = coalesce(nullif($3, ''), reason), updated_at = now()
		 WHERE order_id = $1 AND status = 'RESERVED'`, orderID, to, reason)
	if err != nil {
		return false, fmt.Errorf("move reservation to %s: %w", to, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Release returns the order's reserved lines to available. Sell moves them to sold. Both must run
// right after a successful Transition out of RESERVED, in the same transaction, so each happens
// once per order.
func (s store) Release(ctx context.Context, orderID string) error {
	return s.settle(ctx, orderID, `available = i.available + l.quantity`)
}

// Sell moves the order's reserved lines to sold; see Release.
func (s store) Sell(ctx context.Context, orderID string) error {
	return s.settle(ctx, orderID, `sold = i.sold + l.quantity`)
}

// settle takes each reserved line out of reserved and adds it where set says. It locks the item
// rows in sku order first: an UPDATE ... FROM locks in whatever order its plan visits them. Both
// statements travel with the event's COMMIT (postgres.ExecAtCommit), still in that order: their
// results are not needed, and a failure of either still rolls the whole event back.
func (s store) settle(ctx context.Context, orderID, set string) error {
	if err := postgres.ExecAtCommit(ctx, s.db, "lock reserved items",
		`SELECT 1 FROM items WHERE sku IN (SELECT sku FROM reservation_lines WHERE order_id = $1)
		 ORDER BY sku FOR UPDATE`, orderID); err != nil {
		return err
	}
	return postgres.ExecAtCommit(ctx, s.db, "settle reservation",
		`UPDATE items AS i SET reserved = i.reserved - l.quantity, `+set+`, updated_at = now()
		 FROM reservation_lines AS l WHERE l.order_id = $1 AND i.sku = l.sku`, orderID)
}
