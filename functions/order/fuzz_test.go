package order

import (
	"encoding/json"
	"testing"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// FuzzCreateOrderBody feeds arbitrary bodies through the decoding and validation POST /orders
// does before touching the database: it must never panic, must refuse with Invalid, and whatever
// it accepts must be an order inventory can act on and must survive a JSON round trip unchanged.
func FuzzCreateOrderBody(f *testing.F) {
	for _, seed := range []string{
		`{"items":[{"sku":"BOOK-1","quantity":2}]}`,
		`{"items":[{"sku":"A","quantity":1},{"sku":"B","quantity":1000000}]}`,
		`{"items":[]}`, `{"items":null}`, `{}`, `[]`, `null`, `{"items":[{"sku":"A","quantity":1.5}]}`,
		`{"items":[{"sku":"A","quantity":1}]} {}`, `{"items":[{"sku":"A","quantity":-1}]}`,
		`{"items":[{"sku":"A","quantity":1,"price":0}]}`, `{"ITEMS":[{"SKU":"A","QUANTITY":1}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req CreateRequest
		err := httpapi.DecodeBytes(body, &req)
		if err == nil {
			err = events.ValidateLines(req.Items)
			if err == nil {
				again, _ := json.Marshal(req)
				var back CreateRequest
				if err := httpapi.DecodeBytes(again, &back); err != nil || len(back.Items) != len(req.Items) {
					t.Fatalf("accepted %q but its re-encoding %q does not decode the same: %v", body, again, err)
				}
				for i := range back.Items {
					if back.Items[i] != req.Items[i] {
						t.Fatalf("line %d changed in a round trip: %+v -> %+v", i, req.Items[i], back.Items[i])
					}
				}
				p := events.OrderRequestedV1{OrderID: "o", UserID: "u", Items: req.Items}
				if err := p.Validate(); err != nil {
					t.Fatalf("accepted an order that ORDER_REQUESTED refuses: %v", err)
				}
			}
			return
		}
		if apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("decode error %v has code %s, want invalid", err, apperr.CodeOf(err))
		}
	})
}
