package inventory

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// The REST bodies are decoded and validated exactly as the handlers do. Whatever the bytes, a
// body is either refused with Invalid (a 400, never a 500 or a panic) or accepted with values the
// database will store: a well-formed sku, a name PostgreSQL text can hold, amounts in range.

func FuzzCreateItem(f *testing.F) {
	for _, s := range []string{
		`{"sku":"SKU-1","name":"Widget","price_cents":1299,"quantity":7}`,
		`{"sku":"a","name":"x","price_cents":0,"quantity":0}`,
		`{"sku":"B","name":"a\u0000b","price_cents":1,"quantity":1}`,
		`{"sku":"B","name":"\ud800","price_cents":1,"quantity":1}`,
		`{"sku":"B","name":"b","price_cents":1e3,"quantity":1}`,
		`{"sku":"B","name":"b","price_cents":-1,"quantity":1000001}`,
		`{"sku":"B","name":"b","price_cents":1,"quantity":1,"x":1}`,
		`{"sku":null,"name":null}`,
		`[]`, `{}`, ``, `{"sku":"B"}{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req NewItem
		if !accepted(t, httpapi.DecodeBytes(body, &req)) || !accepted(t, req.Validate()) {
			return
		}
		if !events.ValidSKU(*req.SKU) {
			t.Fatalf("accepted sku %q", *req.SKU)
		}
		checkFields(t, req.Name, req.PriceCents, req.Quantity)
		roundTrip(t, req)
	})
}

func FuzzUpdateItem(f *testing.F) {
	for _, s := range []string{
		`{"quantity":9}`, `{"name":"New name"}`, `{"price_cents":5}`,
		`{"name":"n","price_cents":0,"quantity":1000000}`,
		`{"name":"\t"}`, `{"name":"` + strings.Repeat("é", 201) + `"}`,
		`{"quantity":null}`, `{"quantity":1.0}`, `{"sku":"A"}`, `{}`, `null`, ` `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req ItemUpdate
		if !accepted(t, httpapi.DecodeBytes(body, &req)) || !accepted(t, req.Validate()) {
			return
		}
		if req.Name == nil && req.PriceCents == nil && req.Quantity == nil {
			t.Fatal("accepted an update that changes nothing")
		}
		checkFields(t, req.Name, req.PriceCents, req.Quantity)
		roundTrip(t, req)
	})
}

// accepted reports whether err is nil, and fails t unless a refusal is Invalid (400).
func accepted(t *testing.T, err error) bool {
	t.Helper()
	if err != nil && apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("refused with %s, want invalid: %v", apperr.CodeOf(err), err)
	}
	return err == nil
}

func checkFields(t *testing.T, name *string, price, quantity *int64) {
	t.Helper()
	if name != nil {
		n := *name
		if !utf8.ValidString(n) || strings.ContainsRune(n, 0) || strings.TrimSpace(n) == "" || utf8.RuneCountInString(n) > MaxNameRunes {
			t.Fatalf("accepted name %q", n)
		}
	}
	if price != nil && (*price < 0 || *price > MaxPriceCents) {
		t.Fatalf("accepted price_cents %d", *price)
	}
	if quantity != nil && (*quantity < 0 || *quantity > events.MaxQuantity) {
		t.Fatalf("accepted quantity %d", *quantity)
	}
}

// roundTrip checks that an accepted request, encoded again, decodes to itself and is accepted:
// what the CLI sends for it means the same thing.
func roundTrip[T interface{ Validate() error }](t *testing.T, req T) {
	t.Helper()
	raw, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var again T
	if err := httpapi.DecodeBytes(raw, &again); err != nil {
		t.Fatalf("re-encoded %s: %v", raw, err)
	}
	if !reflect.DeepEqual(again, req) {
		t.Fatalf("round trip changed %+v into %+v", req, again)
	}
	if err := again.Validate(); err != nil {
		t.Fatalf("re-encoded %s: %v", raw, err)
	}
}
