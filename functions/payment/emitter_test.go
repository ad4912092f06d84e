package payment

import (
	"context"
	"net/http"
	"testing"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
	"github.com/ordersaga/ordersaga/internal/function"
)

// Payment charges only for an INVENTORY_RESERVED inventory wrote.
func TestInventoryReservedFromAnotherSourceChargesNothing(t *testing.T) {
	f := open(t, Config{SuccessRate: 1})
	e := eventstest.New(t, events.SourceOrder, events.InventoryReservedV1{OrderID: "00000000-0000-0000-0000-000000000001", UserID: "u",
		Items: []events.Line{{SKU: "PEN", Quantity: 1}}, TotalCents: 100})
	reply, err := f.Handle(context.Background(), e)
	if status := function.EventStatus(err); status != http.StatusBadRequest || reply != nil {
		t.Fatalf("status %d (err %v); want 400", status, err)
	}
	if n := count(t, f, "transactions"); n != 0 {
		t.Fatalf("%d transactions", n)
	}
}
