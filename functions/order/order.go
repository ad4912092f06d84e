package order

import (
	"time"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/events"
)

// Status is where an order is in the saga: REQUESTED → APPROVED → COMPLETED, or → CANCELLED.
type Status string

const (
	Requested Status = "REQUESTED"
	Approved  Status = "APPROVED"
	Completed Status = "COMPLETED"
	Cancelled Status = "CANCELLED"
)

// Finished reports whether s is terminal: no event changes a finished order.
func (s Status) Finished() bool { return s == Completed || s == Cancelled }

// Order is an order and its progress through the saga.
type Order struct {
	ID                string        `json:"id" db:"id"`
	UserID            string        `json:"user_id" db:"user_id"`
	Status            Status        `json:"status" db:"status"`
	Items             []events.Line `json:"items" db:"items"`
	InventoryReserved bool          `json:"inventory_reserved" db:"inventory_reserved"`
	TotalCents        int64         `json:"total_cents" db:"total_cents"`
	CancelReason      string        `json:"cancel_reason,omitempty" db:"cancel_reason"`
	TrackingID        string        `json:"tracking_id,omitempty" db:"tracking_id"`
	CreatedAt         time.Time     `json:"created_at" db:"created_at"`
	UpdatedAt         time.Time     `json:"updated_at" db:"updated_at"`
}

// The transitions below are the seed's rules. Each returns whether it changed the order, so the
// handler knows whether to emit the next event; none of them changes a finished order.
//
// INVENTORY_RESERVED and TRANSACTION_* race: payment reacts to the same INVENTORY_RESERVED the
// order does, so TRANSACTION_COMPLETED may arrive first. A completed transaction implies the stock
// was reserved, so Approve records that too, and the late INVENTORY_RESERVED then changes nothing.

// MarkInventoryReserved records that inventory reserved every line, priced at totalCents.
func (o *Order) MarkInventoryReserved(totalCents int64) bool {
	if o.Status.Finished() || o.InventoryReserved {
		return false
	}
	o.InventoryReserved, o.TotalCents = true, totalCents
	return true
}

// Approve records a completed payment: REQUESTED → APPROVED.
func (o *Order) Approve(amountCents int64) bool {
	if o.Status != Requested {
		return false
	}
	o.Status, o.InventoryReserved, o.TotalCents = Approved, true, amountCents
	return true
}

// Cancel cancels an order that is still REQUESTED.
func (o *Order) Cancel(reason string) bool {
	if o.Status != Requested {
		return false
	}
	o.Status, o.CancelReason = Cancelled, reason
	return true
}

// Complete records the shipment: APPROVED → COMPLETED. Errors: Conflict when the order was never
// approved, since nothing is shipped before payment.
func (o *Order) Complete(trackingID string) (bool, error) {
	switch o.Status {
	case Approved:
		o.Status, o.TrackingID = Completed, trackingID
		return true, nil
	case Requested:
		return false, apperr.Errorf(apperr.Conflict, "order %s is %s: cannot complete an order that was never approved", o.ID, o.Status)
	default:
		return false, nil
	}
}
