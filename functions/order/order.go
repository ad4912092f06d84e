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
	// CancelRequestedReason is why the order asked payment to void it (events.ReasonTimeout or
	// events.ReasonCancelledByCustomer); empty while nobody asked.
	CancelRequestedReason string `json:"cancel_requested_reason,omitempty" db:"cancel_requested_reason"`
	// DeadlineAt is when the current step is overdue (Schedule); nil for a finished order.
	DeadlineAt *time.Time `json:"deadline_at,omitempty" db:"deadline_at"`
	// DeadlineAttempts counts the republications of the current step's event, for the back-off.
	DeadlineAttempts int       `json:"-" db:"deadline_attempts"`
	TrackingID       string    `json:"tracking_id,omitempty" db:"tracking_id"`
	CreatedAt        time.Time `json:"created_at" db:"created_at"`
	UpdatedAt        time.Time `json:"updated_at" db:"updated_at"`

	// nextEvent is the CloudEvent (JSON) that moves the order on from its new state, set by
	// Schedule.Start; nil keeps the stored one.
	nextEvent []byte
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

// Cancel cancels an order that is still REQUESTED. When reason is payment's void
// (events.ReasonCancelled), the order's own reason for asking (CancelRequestedReason) is kept
// instead, so the order says why it was cancelled: timeout or cancelled_by_customer.
func (o *Order) Cancel(reason string) bool {
	if o.Status != Requested {
		return false
	}
	if reason == events.ReasonCancelled && o.CancelRequestedReason != "" {
		reason = o.CancelRequestedReason
	}
	o.Status, o.CancelReason = Cancelled, reason
	o.finish()
	return true
}

// RequestCancel records that the order asks payment to void it, for reason. The order stays
// REQUESTED: only payment's answer (TRANSACTION_FAILED or TRANSACTION_COMPLETED) decides, so a
// paid order is never cancelled. It reports false when a cancel was requested already (the first
// reason stands). Errors: Conflict when payment has succeeded (APPROVED, COMPLETED) or the order
// is cancelled already.
func (o *Order) RequestCancel(reason string) (bool, error) {
	switch o.Status {
	case Requested:
		if o.CancelRequestedReason != "" {
			return false, nil
		}
		o.CancelRequestedReason = reason
		return true, nil
	case Cancelled:
		return false, apperr.Errorf(apperr.Conflict, "order %s is already cancelled", o.ID)
	default:
		return false, apperr.Errorf(apperr.Conflict, "order %s is %s: payment has succeeded, it can no longer be cancelled", o.ID, o.Status)
	}
}

// finish clears the deadline: a finished order has nothing left to drive.
func (o *Order) finish() { o.DeadlineAt, o.DeadlineAttempts = nil, 0 }

// Complete records the shipment: APPROVED → COMPLETED. Errors: Conflict when the order was never
// approved, since nothing is shipped before payment.
func (o *Order) Complete(trackingID string) (bool, error) {
	switch o.Status {
	case Approved:
		o.Status, o.TrackingID = Completed, trackingID
		o.finish()
		return true, nil
	case Requested:
		return false, apperr.Errorf(apperr.Conflict, "order %s is %s: cannot complete an order that was never approved", o.ID, o.Status)
	default:
		return false, nil
	}
}
