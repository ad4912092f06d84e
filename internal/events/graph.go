package events

// The saga graph: which function emits each event type, and which event it answers. Together with
// Reactions (who reacts to what) it is the event table of docs/CONTRACTS.md; graph_test.go
// checks that the three agree. The CLI's `events trace` uses Causes to measure each hop.

// EmittedBy names the function that emits each event type.
var EmittedBy = map[Type]string{
	OrderRequested:       "order",
	InventoryReserved:    "inventory",
	InventoryNotReserved: "inventory",
	TransactionCompleted: "payment",
	TransactionFailed:    "payment",
	OrderAccepted:        "order",
	OrderShipped:         "shipping",
	OrderCompleted:       "order",
	OrderCancelled:       "order",
	OrderCancelRequested: "order",
}

// Causes lists, for each event type, the event types it is the reply to, in the order they are
// looked for. ORDER_REQUESTED starts a saga (from a REST request) and answers none; ORDER_CANCELLED
// answers whichever of its causes the order saw.
var Causes = map[Type][]Type{
	InventoryReserved:    {OrderRequested},
	InventoryNotReserved: {OrderRequested},
	TransactionCompleted: {InventoryReserved, OrderCancelRequested},
	TransactionFailed:    {InventoryReserved, OrderCancelRequested},
	OrderAccepted:        {TransactionCompleted},
	OrderShipped:         {OrderAccepted},
	OrderCompleted:       {OrderShipped},
	OrderCancelled:       {InventoryNotReserved, TransactionFailed},
}

// Next lists the event types that can answer t: the graph read forwards.
func Next(t Type) []Type {
	var next []Type
	for _, effect := range All { // All, not the map, for a stable order
		for _, cause := range Causes[effect] {
			if cause == t {
				next = append(next, effect)
			}
		}
	}
	return next
}
