package events

import (
	"slices"
	"testing"
)

// TestGraphAgreesWithReactions checks the saga graph against the routing table: an event can only
// answer a cause that the function emitting it reacts to.
func TestGraphAgreesWithReactions(t *testing.T) {
	every := append(slices.Clone(All), Extensions...)
	for _, typ := range every {
		if EmittedBy[typ] == "" {
			t.Errorf("%s: no emitting function in EmittedBy", typ)
		}
		// Only the order function starts a chain, from a request or a deadline.
		if typ != OrderRequested && typ != OrderCancelRequested && len(Causes[typ]) == 0 {
			t.Errorf("%s answers nothing: only %s and %s start a chain", typ, OrderRequested, OrderCancelRequested)
		}
		for _, cause := range Causes[typ] {
			if !slices.Contains(Reactions[cause], EmittedBy[typ]) {
				t.Errorf("%s answers %s, but %s does not react to %s (Reactions: %v)",
					typ, cause, EmittedBy[typ], cause, Reactions[cause])
			}
		}
	}
	if len(EmittedBy) != len(every) || len(Causes) != len(every)-2 {
		t.Errorf("EmittedBy has %d types and Causes %d; want %d and %d", len(EmittedBy), len(Causes), len(every), len(every)-2)
	}
}

func TestNext(t *testing.T) {
	for typ, want := range map[Type][]Type{
		OrderRequested:    {InventoryReserved, InventoryNotReserved},
		InventoryReserved: {TransactionCompleted, TransactionFailed},
		OrderShipped:      {OrderCompleted},
		OrderCompleted:    nil,
	} {
		if got := Next(typ); !slices.Equal(got, want) {
			t.Errorf("Next(%s) = %v, want %v", typ, got, want)
		}
	}
}

func TestValidateLinesPointsAtTheLine(t *testing.T) {
	err := ValidateLines([]Line{{SKU: "A", Quantity: 1}, {SKU: "B", Quantity: 0}})
	le, ok := err.(*LineError)
	if !ok || le.Index != 1 || err.Error() != "items[1].quantity: must be between 1 and 1000000" {
		t.Errorf("ValidateLines = %#v (%v), want a LineError for line 1", err, err)
	}
}
