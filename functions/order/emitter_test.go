package order

import (
	"context"
	"net/http"
	"testing"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
	"github.com/ordersaga/ordersaga/internal/function"
)

// A payment for another amount than the total inventory priced is not this order's payment:
// 400, and the order stays as it was. The right amount then approves it.
func TestPaymentOfAnotherAmountIsRefused(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)
	fx.deliver(t, reserved(t, o.ID)) // total 2500
	for _, amount := range []int64{1, 2499, 2501, 0} {
		e := eventstest.New(t, events.SourcePayment, events.TransactionCompletedV1{OrderID: o.ID, TransactionID: "tx-forged", AmountCents: amount})
		reply, err := fx.fn.Handle(context.Background(), e)
		if status := function.EventStatus(err); status != http.StatusBadRequest || reply != nil {
			t.Errorf("amount %d: status %d (err %v), reply %v; want 400", amount, status, err, reply)
		}
	}
	if got := fx.order(t, o.ID); got.Status != Requested || got.TotalCents != 2500 {
		t.Fatalf("refused payments changed the order: %+v", got)
	}
	if n := fx.countRows(t, "inbox"); n != 1 {
		t.Errorf("inbox rows = %d, want 1 (INVENTORY_RESERVED only)", n)
	}
	if reply := fx.deliver(t, paid(t, o.ID)); reply == nil || fx.order(t, o.ID).Status != Approved {
		t.Fatalf("the right amount: reply %v, order %+v", reply, fx.order(t, o.ID))
	}
}

// Each saga type is accepted only from the function that emits it.
func TestEventsFromAnotherEmitterAre400(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)
	for name, e := range map[string]func() events.Payload{
		"TRANSACTION_COMPLETED from inventory": func() events.Payload {
			return events.TransactionCompletedV1{OrderID: o.ID, TransactionID: "t", AmountCents: 2500}
		},
		"ORDER_SHIPPED from payment": func() events.Payload { return events.OrderShippedV1{OrderID: o.ID, TrackingID: "T"} },
	} {
		src := events.SourceInventory
		if name == "ORDER_SHIPPED from payment" {
			src = events.SourcePayment
		}
		reply, err := fx.fn.Handle(context.Background(), eventstest.New(t, src, e()))
		if status := function.EventStatus(err); status != http.StatusBadRequest || reply != nil {
			t.Errorf("%s: status %d (err %v); want 400", name, status, err)
		}
	}
	if got := fx.order(t, o.ID); got.Status != Requested {
		t.Errorf("order changed: %+v", got)
	}
	if n := fx.countRows(t, "inbox"); n != 0 {
		t.Errorf("%d refused events recorded as handled", n)
	}
}
