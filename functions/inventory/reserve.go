package inventory

import (
	"context"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// reserve handles ORDER_REQUESTED: it reserves every line of the order or none, and answers
// INVENTORY_RESERVED (priced by inventory) or INVENTORY_NOT_RESERVED. Each order is decided once:
// a later ORDER_REQUESTED for it, whatever its event id, gets the answer its reservation row
// gives and changes nothing.
func (f *Function) reserve(ctx context.Context, tx postgres.DBTX, e cloudevents.Event, req events.OrderRequestedV1) (*cloudevents.Event, error) {
	s := store{db: tx}
	claimed, err := s.ClaimReservation(ctx, Reservation{OrderID: req.OrderID, UserID: req.UserID, Status: Reserved})
	if err != nil {
		return nil, err
	}
	if !claimed {
		p, err := answerFor(ctx, s, req.OrderID)
		if err != nil {
			return nil, err
		}
		return reply(e, p)
	}
	p, err := reserveLines(ctx, s, req)
	if err != nil {
		return nil, err
	}
	return reply(e, p)
}

// reserveLines decides a freshly claimed order under the item rows' locks: the first line (in the
// order's own order) with an unknown sku or too little stock rejects the whole order; otherwise
// every line is reserved at the current price.
func reserveLines(ctx context.Context, s store, req events.OrderRequestedV1) (events.Payload, error) {
	skus := make([]string, len(req.Items))
	for i, l := range req.Items {
		skus[i] = l.SKU
	}
	locked, err := s.LockItems(ctx, skus)
	if err != nil {
		return nil, err
	}
	prices := make([]int64, len(req.Items))
	var total int64 // cannot overflow: MaxPriceCents * MaxQuantity * MaxLines < 2^63
	for i, l := range req.Items {
		st, ok := locked[l.SKU]
		reason := ""
		switch {
		case !ok:
			reason = events.ReasonUnknownSKU
		case st.Available < l.Quantity:
			reason = events.ReasonInsufficient
		}
		if reason != "" {
			if err := s.Reject(ctx, req.OrderID, reason, l.SKU); err != nil {
				return nil, err
			}
			return events.InventoryNotReservedV1{OrderID: req.OrderID, Reason: reason, SKU: l.SKU}, nil
		}
		prices[i] = st.PriceCents
		total += st.PriceCents * l.Quantity
	}
	if err := s.Reserve(ctx, req.OrderID, req.Items, prices, total); err != nil {
		return nil, err
	}
	return events.InventoryReservedV1{OrderID: req.OrderID, UserID: req.UserID, Items: req.Items, TotalCents: total}, nil
}

// answerFor rebuilds the answer to ORDER_REQUESTED from the order's existing reservation. A
// reservation that was released, or a tombstone, answers "not reserved, order cancelled": the
// order is over, and answering "reserved" could get a cancelled order charged.
func answerFor(ctx context.Context, s store, orderID string) (events.Payload, error) {
	r, err := s.Reservation(ctx, orderID)
	if err != nil {
		return nil, err
	}
	switch r.Status {
	case Reserved, Sold:
		lines, err := s.ReservationLines(ctx, orderID)
		if err != nil {
			return nil, err
		}
		return events.InventoryReservedV1{OrderID: orderID, UserID: r.UserID, Items: lines, TotalCents: r.TotalCents}, nil
	case Rejected:
		return events.InventoryNotReservedV1{OrderID: orderID, Reason: r.Reason, SKU: r.SKU}, nil
	default: // Released, Cancelled
		return events.InventoryNotReservedV1{OrderID: orderID, Reason: events.ReasonOrderCancelled}, nil
	}
}

// replyNamespace is the UUID namespace of reply event ids (a fixed random UUID).
var replyNamespace = uuid.MustParse("5b0e3f4c-2a61-4c8e-9a55-0f1d6f3c7e21")

// reply builds the answer to cause. Its id is derived from the answer's type and order rather than
// drawn at random: inventory answers each order once, so a second ORDER_REQUESTED for the order
// (a new event id, which the inbox cannot recognise) still produces the very event downstream
// has already seen, and downstream's own inbox drops it.
func reply(cause cloudevents.Event, p events.Payload) (*cloudevents.Event, error) {
	r, err := events.Reply(cause, events.SourceInventory, p)
	if err != nil {
		return nil, err
	}
	r.SetID(uuid.NewSHA1(replyNamespace, []byte(string(p.EventType())+"/"+p.Order())).String())
	return r, nil
}

// release handles ORDER_CANCELLED: the order's reserved units go back to available, once. An
// order inventory has not seen yet gets a CANCELLED tombstone, so its ORDER_REQUESTED, should it
// still arrive, is refused. Released, sold or rejected reservations are left as they are. The
// event's lines are not used: what was reserved is what the reservation row says.
func (f *Function) release(ctx context.Context, tx postgres.DBTX, _ cloudevents.Event, c events.OrderCancelledV1) (*cloudevents.Event, error) {
	s := store{db: tx}
	tombstone, err := s.ClaimReservation(ctx, Reservation{OrderID: c.OrderID, Status: Cancelled, Reason: c.Reason})
	if err != nil || tombstone {
		return nil, err
	}
	released, err := s.Transition(ctx, c.OrderID, Released, c.Reason)
	if err != nil || !released {
		return nil, err
	}
	return nil, s.Release(ctx, c.OrderID)
}

// sell handles ORDER_COMPLETED: the order's reserved units become sold, once. An order without a
// reservation is NotFound and one that was released, rejected or cancelled is a Conflict: both
// can never succeed, so they go to the dead-letter sink rather than being retried.
func (f *Function) sell(ctx context.Context, tx postgres.DBTX, _ cloudevents.Event, c events.OrderCompletedV1) (*cloudevents.Event, error) {
	s := store{db: tx}
	sold, err := s.Transition(ctx, c.OrderID, Sold, "")
	if err != nil {
		return nil, err
	}
	if sold {
		return nil, s.Sell(ctx, c.OrderID)
	}
	r, err := s.Reservation(ctx, c.OrderID)
	if err != nil {
		return nil, err
	}
	if r.Status != Sold {
		return nil, apperr.Errorf(apperr.Conflict, "order %s cannot be sold: its reservation is %s", c.OrderID, r.Status)
	}
	return nil, nil // sold already, by an earlier ORDER_COMPLETED with another event id
}
