// Package events is the event contract of the order saga: the nine CloudEvent types, one typed,
// versioned JSON payload per type, constructors that set the routing attributes, and strict
// decoding. Every function and the CLI share it, so a change here is a change of the contract.
package events

// Type is a CloudEvents `type` attribute. The values are the seed's event names, exactly, because
// the Broker Triggers in triggers/ filter on them.
type Type string

// The nine saga events, in the order a successful order sees them.
const (
	OrderRequested       Type = "ORDER_REQUESTED"
	InventoryReserved    Type = "INVENTORY_RESERVED"
	InventoryNotReserved Type = "INVENTORY_NOT_RESERVED"
	TransactionCompleted Type = "TRANSACTION_COMPLETED"
	TransactionFailed    Type = "TRANSACTION_FAILED"
	OrderAccepted        Type = "ORDER_ACCEPTED"
	OrderShipped         Type = "ORDER_SHIPPED"
	OrderCompleted       Type = "ORDER_COMPLETED"
	OrderCancelled       Type = "ORDER_CANCELLED"
)

// All lists every saga event type.
var All = []Type{
	OrderRequested, InventoryReserved, InventoryNotReserved,
	TransactionCompleted, TransactionFailed,
	OrderAccepted, OrderShipped, OrderCompleted, OrderCancelled,
}

// OrderCancelRequested is an extension beyond the seed's nine (docs/SAGA.md): the order asks payment
// to settle whether the order may still be cancelled. It is kept out of All, which is the seed's
// list, and listed in Extensions.
const OrderCancelRequested Type = "ORDER_CANCEL_REQUESTED"

// Extensions lists the event types added beyond the seed's nine.
var Extensions = []Type{OrderCancelRequested}

// Sources: the CloudEvents `source` of each emitting function.
const (
	SourceOrder     = "ordersaga/order"
	SourceInventory = "ordersaga/inventory"
	SourcePayment   = "ordersaga/payment"
	SourceShipping  = "ordersaga/shipping"
)

// Reactions is the saga's event table (docs/CONTRACTS.md): which function reacts to which event
// type. The deployment tests check that triggers/ routes exactly these.
var Reactions = map[Type][]string{
	OrderRequested:       {"inventory"},
	InventoryReserved:    {"order", "payment"},
	InventoryNotReserved: {"order"},
	TransactionCompleted: {"order"},
	TransactionFailed:    {"order"},
	OrderCancelled:       {"inventory"},
	OrderAccepted:        {"shipping"},
	OrderShipped:         {"order"},
	OrderCompleted:       {"inventory"},
	OrderCancelRequested: {"payment"},
}

// Known reports whether t is one of the saga's event types.
func Known(t Type) bool {
	_, ok := Reactions[t]
	return ok
}
