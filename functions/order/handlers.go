package order

import (
	"context"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/inbox"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// handle routes e to its handler; inbox.Handle decodes e and runs the handler in one
// transaction with e's inbox row.
func (f *Function) handle(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	switch events.Type(e.Type()) {
	case events.InventoryReserved:
		return inbox.Handle(ctx, f.Pool, e, f.onInventoryReserved)
	case events.InventoryNotReserved:
		return inbox.Handle(ctx, f.Pool, e, f.onInventoryNotReserved)
	case events.TransactionCompleted:
		return inbox.Handle(ctx, f.Pool, e, f.onTransactionCompleted)
	case events.TransactionFailed:
		return inbox.Handle(ctx, f.Pool, e, f.onTransactionFailed)
	case events.OrderShipped:
		return inbox.Handle(ctx, f.Pool, e, f.onOrderShipped)
	}
	return nil, function.Rejectf("the order function does not handle %q events", e.Type())
}

// onInventoryReserved: inventory_reserved = true (the seed). No reply: payment reacts to the same
// event.
func (f *Function) onInventoryReserved(ctx context.Context, tx postgres.DBTX, _ cloudevents.Event, p events.InventoryReservedV1) (*cloudevents.Event, error) {
	_, _, err := (&Store{db: tx}).Update(ctx, p.OrderID, func(o *Order) (bool, error) {
		return o.MarkInventoryReserved(p.TotalCents), nil
	})
	return nil, err
}

// onInventoryNotReserved: CANCELLED, and ORDER_CANCELLED.
func (f *Function) onInventoryNotReserved(ctx context.Context, tx postgres.DBTX, e cloudevents.Event, p events.InventoryNotReservedV1) (*cloudevents.Event, error) {
	return f.cancel(ctx, tx, e, p.OrderID, p.Reason)
}

// onTransactionFailed: CANCELLED, and ORDER_CANCELLED, whose lines let inventory release the
// reservation.
func (f *Function) onTransactionFailed(ctx context.Context, tx postgres.DBTX, e cloudevents.Event, p events.TransactionFailedV1) (*cloudevents.Event, error) {
	return f.cancel(ctx, tx, e, p.OrderID, p.Reason)
}

// cancel cancels a REQUESTED order and builds ORDER_CANCELLED from its stored state, with the
// reason the order keeps (its own cancel request's, when payment's answer is the void).
func (f *Function) cancel(ctx context.Context, tx postgres.DBTX, cause cloudevents.Event, orderID, reason string) (*cloudevents.Event, error) {
	o, changed, err := (&Store{db: tx}).Update(ctx, orderID, func(o *Order) (bool, error) {
		return o.Cancel(reason), nil
	})
	if err != nil || !changed {
		return nil, err
	}
	return events.Reply(cause, source, events.OrderCancelledV1{OrderID: o.ID, Items: o.Items, Reason: o.CancelReason})
}

// onTransactionCompleted: APPROVED, and ORDER_ACCEPTED, which becomes the event the order's
// deadline republishes until shipping answers (a paid order is driven forward, never cancelled).
func (f *Function) onTransactionCompleted(ctx context.Context, tx postgres.DBTX, e cloudevents.Event, p events.TransactionCompletedV1) (*cloudevents.Event, error) {
	var accepted cloudevents.Event
	_, changed, err := (&Store{db: tx}).Update(ctx, p.OrderID, func(o *Order) (bool, error) {
		// Payment charges the total inventory priced; any other amount is not this order's
		// payment. Before INVENTORY_RESERVED arrives (they race) the total is not known here,
		// and payment's word is taken, as Approve records the reservation too.
		if o.Status == Requested && o.InventoryReserved && p.AmountCents != o.TotalCents {
			return false, function.Rejectf("TRANSACTION_COMPLETED for order %s is for %d cents, not its total of %d", o.ID, p.AmountCents, o.TotalCents)
		}
		if !o.Approve(p.AmountCents) {
			return false, nil
		}
		reply, err := events.Reply(e, source, events.OrderAcceptedV1{OrderID: o.ID, UserID: o.UserID, Items: o.Items, TotalCents: o.TotalCents})
		if err != nil {
			return false, err
		}
		accepted = *reply
		return true, f.schedule.Start(o, accepted, f.now())
	})
	if err != nil || !changed {
		return nil, err
	}
	return &accepted, nil
}

// onOrderShipped: COMPLETED, and ORDER_COMPLETED, on which inventory turns the reservation into
// a sale.
func (f *Function) onOrderShipped(ctx context.Context, tx postgres.DBTX, e cloudevents.Event, p events.OrderShippedV1) (*cloudevents.Event, error) {
	o, changed, err := (&Store{db: tx}).Update(ctx, p.OrderID, func(o *Order) (bool, error) {
		return o.Complete(p.TrackingID)
	})
	if err != nil || !changed {
		return nil, err
	}
	return events.Reply(e, source, events.OrderCompletedV1{OrderID: o.ID, Items: o.Items})
}
