package inventory

import (
	"context"
	"net/http"
	"testing"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
	"github.com/ordersaga/ordersaga/internal/function"
)

// Stock is reserved only for an ORDER_REQUESTED the order function wrote: the same event from
// any other source is 400 and reserves nothing.
func TestOrderRequestedFromAnotherSourceReservesNothing(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "PEN", 100, 10)
	for _, src := range []string{events.SourcePayment, events.SourceInventory, "ordersaga/attacker"} {
		e := eventstest.New(t, src, events.OrderRequestedV1{OrderID: "00000000-0000-0000-0000-000000000001", UserID: "u", Items: []events.Line{{SKU: "PEN", Quantity: 10}}})
		reply, err := f.fn.Handle(context.Background(), e)
		if status := function.EventStatus(err); status != http.StatusBadRequest || reply != nil {
			t.Errorf("from %s: status %d (err %v); want 400", src, status, err)
		}
	}
	if it := f.item(t, "PEN"); it.Available != 10 || it.Reserved != 0 {
		t.Fatalf("stock changed: %+v", it)
	}
}
