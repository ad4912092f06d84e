package payment

import (
	"context"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// The pivot of the saga (docs/SAGA.md): an order's one transactions row decides whether it is
// paid or cancelled, whichever of INVENTORY_RESERVED (charge) and ORDER_CANCEL_REQUESTED (void)
// gets there first. The order function cancels only on payment's TRANSACTION_FAILED, so a
// cancelled order is never charged and a charged one is never cancelled.

// Void records that orderID will never be charged: a FAILED transaction with reason "cancelled",
// unless the order has a transaction already, which is then returned unchanged (a charged order
// stays charged). Errors are the database's (transient).
func (s store) Void(ctx context.Context, orderID string, amount int64) (transaction, error) {
	return s.settle(ctx, transaction{OrderID: orderID, ID: uuid.NewString(), AmountCents: amount,
		Status: statusFailed, Reason: events.ReasonCancelled})
}

// voidOnCancelRequest answers ORDER_CANCEL_REQUESTED with the order's transaction, voiding it
// first when it has none: TRANSACTION_COMPLETED for a charged order, TRANSACTION_FAILED otherwise.
func (f *Function) voidOnCancelRequest(ctx context.Context, tx postgres.DBTX, e cloudevents.Event, p events.OrderCancelRequestedV1) (*cloudevents.Event, error) {
	t, err := store{db: tx}.Void(ctx, p.OrderID, p.TotalCents)
	if err != nil {
		return nil, err
	}
	return events.Reply(e, events.SourcePayment, t.payload())
}
