package inventory

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/events"
)

// The items' CHECK is the second guard against oversell: even called without the check
// reserveLines makes, Reserve takes nothing that is not there and fails the whole order.
func TestStoreReserveIsConditional(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	f.stock(t, "B", 100, 1)
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, f.fn.Pool, func(tx pgx.Tx) error {
		s := store{db: tx}
		if _, err := s.ClaimReservation(ctx, Reservation{OrderID: "o-1", UserID: "u", Status: Reserved}); err != nil {
			return err
		}
		return s.Reserve(ctx, "o-1", []events.Line{line("A", 2), line("B", 2)}, []int64{100, 100}, 400)
	})
	if !errors.Is(err, errStockMoved) || apperr.CodeOf(err) != apperr.Internal {
		t.Errorf("Reserve beyond stock: %v, want an internal errStockMoved", err)
	}
	f.wantStock(t, "A", 5, 0, 0)
	f.wantStock(t, "B", 1, 0, 0)
	if _, err := (store{db: f.fn.Pool}).Reservation(ctx, "o-1"); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("reservation after rollback: %v, want NotFound", err)
	}
}

// The table's CHECKs hold even against a query that would go below zero.
func TestStoreStockCannotGoNegative(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 1)
	_, err := f.fn.Pool.Exec(context.Background(), `UPDATE items SET available = available - 2 WHERE sku = 'A'`)
	if err == nil {
		t.Fatal("available went negative")
	}
	f.wantStock(t, "A", 1, 0, 0)
}

// A value that slipped past validation is refused as Invalid (400), not as a 500.
func TestStoreTranslatesCheckViolations(t *testing.T) {
	f := newFixture(t)
	s := store{db: f.fn.Pool}
	ctx := context.Background()
	if _, err := s.CreateItem(ctx, Item{SKU: "A", Name: "a", PriceCents: -1}); apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("negative price: %v, want Invalid", err)
	}
	f.stock(t, "B", 1, 1)
	minus := int64(-1)
	if _, err := s.UpdateItem(ctx, "B", ItemUpdate{Quantity: &minus}); apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("negative quantity: %v, want Invalid", err)
	}
	f.wantStock(t, "B", 1, 0, 0)
}
