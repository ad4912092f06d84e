package order

import (
	"reflect"
	"testing"

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

		{"completed, reserved", completed, events.InventoryReserved, false, "", completed},
		{"completed, not reserved", completed, events.InventoryNotReserved, false, "", completed},
		{"completed, paid", completed, events.TransactionCompleted, false, "", completed},
		{"completed, payment failed", completed, events.TransactionFailed, false, "", completed},
		{"completed, shipped again", completed, events.OrderShipped, false, "", completed},

		{"cancelled, reserved late", cancelled, events.InventoryReserved, false, "", cancelled},
		{"cancelled, not reserved", cancelled, events.InventoryNotReserved, false, "", cancelled},
		{"cancelled, paid: a cancelled order is never approved", cancelled, events.TransactionCompleted, false, "", cancelled},
		{"cancelled, payment failed", cancelled, events.TransactionFailed, false, "", cancelled},
		{"cancelled, shipped", cancelled, events.OrderShipped, false, "", cancelled},
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
