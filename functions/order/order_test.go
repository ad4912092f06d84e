package order

import (
	"reflect"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/events"
)

// transition applies the event of type t to o as the handlers in handlers.go do.
func transition(o *Order, t events.Type) (bool, error) {
	switch t {
	case events.InventoryReserved:
		return o.MarkInventoryReserved(1200), nil
	case events.InventoryNotReserved, events.TransactionFailed:
		return o.Cancel("no"), nil
	case events.OrderCancelRequested: // the order's own request (REST or the final deadline)
		return o.RequestCancel(events.ReasonCancelledByCustomer)
	case events.TransactionCompleted:
		return o.Approve(1200), nil
	case events.OrderShipped:
		return o.Complete("TRACK-1")
	}
	panic("no transition for " + t)
}

// TestStateMachine is the order's state machine as a table: every state the saga can leave an
// order in, times every event the order function reacts to, in any order the broker delivers.
func TestStateMachine(t *testing.T) {
	requested := Order{ID: "o", Status: Requested}
	reserved := Order{ID: "o", Status: Requested, InventoryReserved: true, TotalCents: 1200}
	approved := Order{ID: "o", Status: Approved, InventoryReserved: true, TotalCents: 1200}
	completed := Order{ID: "o", Status: Completed, InventoryReserved: true, TotalCents: 1200, TrackingID: "TRACK-1"}
	cancelled := Order{ID: "o", Status: Cancelled, CancelReason: "no"}
	asked := Order{ID: "o", Status: Requested, CancelRequestedReason: events.ReasonCancelledByCustomer}

	with := func(o Order, change func(*Order)) Order { change(&o); return o }
	for _, c := range []struct {
		name    string
		from    Order
		event   events.Type
		changed bool
		err     apperr.Code // "" for none
		to      Order
	}{
		{"requested, reserved", requested, events.InventoryReserved, true, "", reserved},
		{"requested, not reserved", requested, events.InventoryNotReserved, true, "", with(requested, func(o *Order) { o.Status, o.CancelReason = Cancelled, "no" })},
		{"requested, paid before the reservation arrived", requested, events.TransactionCompleted, true, "", approved},
		{"requested, payment failed", requested, events.TransactionFailed, true, "", with(requested, func(o *Order) { o.Status, o.CancelReason = Cancelled, "no" })},
		{"requested, shipped before payment", requested, events.OrderShipped, false, apperr.Conflict, requested},
		{"requested, cancel requested: still REQUESTED until payment answers", requested, events.OrderCancelRequested, true, "", asked},

		{"asked, cancel requested again: the first reason stands", with(asked, func(o *Order) { o.CancelRequestedReason = events.ReasonTimeout }), events.OrderCancelRequested, false, "", with(asked, func(o *Order) { o.CancelRequestedReason = events.ReasonTimeout })},
		{"asked, reserved", asked, events.InventoryReserved, true, "", with(asked, func(o *Order) { o.InventoryReserved, o.TotalCents = true, 1200 })},
		{"asked, paid first: approved, never cancelled", asked, events.TransactionCompleted, true, "", with(approved, func(o *Order) { o.CancelRequestedReason = events.ReasonCancelledByCustomer })},
		{"asked, declined", asked, events.TransactionFailed, true, "", with(asked, func(o *Order) { o.Status, o.CancelReason = Cancelled, "no" })},

		{"reserved, reserved again", reserved, events.InventoryReserved, false, "", reserved},
		{"reserved, not reserved", reserved, events.InventoryNotReserved, true, "", with(reserved, func(o *Order) { o.Status, o.CancelReason = Cancelled, "no" })},
		{"reserved, paid", reserved, events.TransactionCompleted, true, "", approved},
		{"reserved, payment failed", reserved, events.TransactionFailed, true, "", with(reserved, func(o *Order) { o.Status, o.CancelReason = Cancelled, "no" })},
		{"reserved, shipped before payment", reserved, events.OrderShipped, false, apperr.Conflict, reserved},

		{"approved, the late reservation", approved, events.InventoryReserved, false, "", approved},
		{"approved, not reserved", approved, events.InventoryNotReserved, false, "", approved},
		{"approved, paid again", approved, events.TransactionCompleted, false, "", approved},
		{"approved, payment failed: a paid order is never cancelled", approved, events.TransactionFailed, false, "", approved},
		{"approved, shipped", approved, events.OrderShipped, true, "", completed},
		{"approved, cancel requested: payment has succeeded", approved, events.OrderCancelRequested, false, apperr.Conflict, approved},

		{"completed, reserved", completed, events.InventoryReserved, false, "", completed},
		{"completed, not reserved", completed, events.InventoryNotReserved, false, "", completed},
		{"completed, paid", completed, events.TransactionCompleted, false, "", completed},
		{"completed, payment failed", completed, events.TransactionFailed, false, "", completed},
		{"completed, shipped again", completed, events.OrderShipped, false, "", completed},
		{"completed, cancel requested", completed, events.OrderCancelRequested, false, apperr.Conflict, completed},

		{"cancelled, reserved late", cancelled, events.InventoryReserved, false, "", cancelled},
		{"cancelled, not reserved", cancelled, events.InventoryNotReserved, false, "", cancelled},
		{"cancelled, paid: a cancelled order is never approved", cancelled, events.TransactionCompleted, false, "", cancelled},
		{"cancelled, payment failed", cancelled, events.TransactionFailed, false, "", cancelled},
		{"cancelled, shipped", cancelled, events.OrderShipped, false, "", cancelled},
		{"cancelled, cancel requested", cancelled, events.OrderCancelRequested, false, apperr.Conflict, cancelled},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := c.from
			changed, err := transition(&o, c.event)
			if changed != c.changed {
				t.Errorf("changed = %v, want %v", changed, c.changed)
			}
			if code := apperr.CodeOf(err); (err == nil) != (c.err == "") || (err != nil && code != c.err) {
				t.Errorf("err = %v (%s), want code %q", err, code, c.err)
			}
			if !reflect.DeepEqual(o, c.to) {
				t.Errorf("order = %+v, want %+v", o, c.to)
			}
		})
	}
}

// Payment's void answers the order's own request: the order keeps its reason for asking, and a
// finished order has no deadline left.
func TestCancelKeepsTheRequestedReasonAndClearsTheDeadline(t *testing.T) {
	due := time.Now()
	for _, c := range []struct {
		requested, paymentReason, want string
	}{
		{events.ReasonTimeout, events.ReasonCancelled, events.ReasonTimeout},
		{events.ReasonCancelledByCustomer, events.ReasonCancelled, events.ReasonCancelledByCustomer},
		{events.ReasonTimeout, events.ReasonPaymentDeclined, events.ReasonPaymentDeclined}, // declined before the void
		{"", events.ReasonCancelled, events.ReasonCancelled},
	} {
		o := Order{ID: "o", Status: Requested, CancelRequestedReason: c.requested, DeadlineAt: &due, DeadlineAttempts: 3}
		if !o.Cancel(c.paymentReason) {
			t.Fatal("Cancel of a REQUESTED order changed nothing")
		}
		if o.CancelReason != c.want || o.DeadlineAt != nil || o.DeadlineAttempts != 0 {
			t.Errorf("requested %q, payment %q: reason %q deadline %v attempts %d; want %q and no deadline",
				c.requested, c.paymentReason, o.CancelReason, o.DeadlineAt, o.DeadlineAttempts, c.want)
		}
	}
	o := Order{ID: "o", Status: Approved, DeadlineAt: &due}
	if changed, err := o.Complete("T"); !changed || err != nil || o.DeadlineAt != nil {
		t.Errorf("Complete: %v %v, deadline %v; want done and no deadline", changed, err, o.DeadlineAt)
	}
}
