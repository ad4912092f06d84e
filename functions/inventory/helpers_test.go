package inventory

import (
	"context"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/auth/authtest"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

// fixture is an inventory function on its own database, plus what the test stocked, so that
// conservation can be checked: available + reserved + sold == stocked, for every item.
type fixture struct {
	fn   *Function
	keys *authtest.Keys

	mu      sync.Mutex
	stocked map[string]int64
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	url := pgtest.NewSchema(tb, "ordersaga_inventory", Schema)
	keys := authtest.NewKeys(tb)
	fn, err := Open(context.Background(), Config{DatabaseURL: url, Config: keys.Config()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(fn.Close)
	return &fixture{fn: fn, keys: keys, stocked: map[string]int64{}}
}

// stock creates an item directly in the store.
func (f *fixture) stock(tb testing.TB, sku string, priceCents, quantity int64) {
	tb.Helper()
	if _, err := (store{db: f.fn.Pool}).CreateItem(context.Background(),
		Item{SKU: sku, Name: "item " + sku, PriceCents: priceCents, Available: quantity}); err != nil {
		tb.Fatal(err)
	}
	f.mu.Lock()
	f.stocked[sku] += quantity
	f.mu.Unlock()
}

func (f *fixture) item(tb testing.TB, sku string) Item {
	tb.Helper()
	it, err := store{db: f.fn.Pool}.Item(context.Background(), sku)
	if err != nil {
		tb.Fatal(err)
	}
	return it
}

// wantStock checks one item's three quantities.
func (f *fixture) wantStock(tb testing.TB, sku string, available, reserved, sold int64) {
	tb.Helper()
	it := f.item(tb, sku)
	if it.Available != available || it.Reserved != reserved || it.Sold != sold {
		tb.Errorf("%s: available/reserved/sold = %d/%d/%d, want %d/%d/%d",
			sku, it.Available, it.Reserved, it.Sold, available, reserved, sold)
	}
}

// wantConserved checks the stock invariant on every item the test stocked.
func (f *fixture) wantConserved(tb testing.TB) {
	tb.Helper()
	items, err := store{db: f.fn.Pool}.Items(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(items) != len(f.stocked) {
		tb.Errorf("%d items, want %d", len(items), len(f.stocked))
	}
	for _, it := range items {
		if got := it.Available + it.Reserved + it.Sold; got != f.stocked[it.SKU] {
			tb.Errorf("%s: available+reserved+sold = %d+%d+%d = %d, want %d stocked",
				it.SKU, it.Available, it.Reserved, it.Sold, got, f.stocked[it.SKU])
		}
	}
}

func (f *fixture) reservation(tb testing.TB, orderID string) Reservation {
	tb.Helper()
	r, err := store{db: f.fn.Pool}.Reservation(context.Background(), orderID)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// handle delivers e and fails tb on any error.
func (f *fixture) handle(tb testing.TB, e cloudevents.Event) *cloudevents.Event {
	tb.Helper()
	reply, err := f.fn.Handle(context.Background(), e)
	if err != nil {
		tb.Fatalf("Handle(%s %s): %v", e.Type(), e.Subject(), err)
	}
	return reply
}

func line(sku string, quantity int64) events.Line { return events.Line{SKU: sku, Quantity: quantity} }

func newOrderID() string { return uuid.NewString() }

func requested(tb testing.TB, orderID string, lines ...events.Line) cloudevents.Event {
	return eventstest.New(tb, events.SourceOrder, events.OrderRequestedV1{OrderID: orderID, UserID: "user-1", Items: lines})
}

func cancelled(tb testing.TB, orderID string, lines ...events.Line) cloudevents.Event {
	return eventstest.New(tb, events.SourceOrder, events.OrderCancelledV1{OrderID: orderID, Items: lines, Reason: events.ReasonPaymentDeclined})
}

func completed(tb testing.TB, orderID string, lines ...events.Line) cloudevents.Event {
	return eventstest.New(tb, events.SourceOrder, events.OrderCompletedV1{OrderID: orderID, Items: lines})
}

// redelivered is e again under a new event id: what a second producer attempt looks like.
func redelivered(e cloudevents.Event) cloudevents.Event {
	c := e.Clone()
	c.SetID(uuid.NewString())
	return c
}
