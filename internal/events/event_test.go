package events_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/events"
)

const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

func reserved() events.InventoryReservedV1 {
	return events.InventoryReservedV1{
		OrderID: "order-1", UserID: "user-1", TotalCents: 1999,
		Items: []events.Line{{SKU: "SKU-1", Quantity: 2}, {SKU: "sku.2", Quantity: 1}},
	}
}

func newEvent(t *testing.T, source string, p events.Payload) cloudevents.Event {
	t.Helper()
	e, err := events.New(source, p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestNewSetsAttributes(t *testing.T) {
	before := time.Now()
	p := reserved()
	e := newEvent(t, events.SourceInventory, p)
	if err := e.Validate(); err != nil {
		t.Fatalf("not a valid CloudEvent: %v", err)
	}
	for name, got := range map[string]any{
		"specversion":     e.SpecVersion(),
		"type":            e.Type(),
		"source":          e.Source(),
		"subject":         e.Subject(),
		"partitionkey":    e.Extensions()[events.PartitionKey],
		"dataschema":      e.DataSchema(),
		"datacontenttype": e.DataContentType(),
	} {
		want := map[string]any{
			"specversion":     "1.0",
			"type":            "INVENTORY_RESERVED",
			"source":          events.SourceInventory,
			"subject":         "order-1",
			"partitionkey":    "order-1",
			"dataschema":      "urn:ordersaga:events:inventory_reserved:v1",
			"datacontenttype": "application/json",
		}[name]
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if uuid.Validate(e.ID()) != nil {
		t.Errorf("id %q is not a uuid", e.ID())
	}
	if e.Time().Before(before.Add(-time.Second)) || e.Time().After(time.Now().Add(time.Second)) {
		t.Errorf("time %v is not now", e.Time())
	}
	if _, ok := e.Extensions()["traceparent"]; ok {
		t.Error("New invented a traceparent")
	}
	if other := newEvent(t, events.SourceInventory, p); other.ID() == e.ID() {
		t.Error("two events share an id")
	}
	got, err := events.Decode[events.InventoryReservedV1](e)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Errorf("Decode(New(p)) = %+v, %v; want %+v", got, err, p)
	}
}

func TestNewRejectsInvalidPayload(t *testing.T) {
	p := reserved()
	p.TotalCents = -1
	if _, err := events.New(events.SourceInventory, p); err == nil {
		t.Error("New accepted a negative total")
	}
	if _, err := events.New(events.SourceShipping, events.OrderShippedV1{OrderID: "order-1"}); err == nil {
		t.Error("New accepted a shipment without tracking id")
	}
}

func TestReply(t *testing.T) {
	cause := newEvent(t, events.SourceInventory, reserved())
	cause.SetExtension("traceparent", traceparent)
	done := events.TransactionCompletedV1{OrderID: "order-1", TransactionID: uuid.NewString(), AmountCents: 1999}
	reply, err := events.Reply(cause, events.SourcePayment, done)
	if err != nil {
		t.Fatal(err)
	}
	if reply.ID() == cause.ID() || reply.Type() != "TRANSACTION_COMPLETED" || reply.Source() != events.SourcePayment ||
		reply.Subject() != "order-1" || reply.Extensions()[events.PartitionKey] != "order-1" ||
		reply.DataSchema() != events.DataSchema(events.TransactionCompleted) {
		t.Errorf("reply attributes: %v", reply)
	}
	if got := reply.Extensions()["traceparent"]; got != traceparent {
		t.Errorf("traceparent = %v, want %s carried from the cause", got, traceparent)
	}

	untraced := newEvent(t, events.SourceInventory, reserved())
	reply, err = events.Reply(untraced, events.SourcePayment, done)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reply.Extensions()["traceparent"]; ok {
		t.Error("reply to an untraced event has a traceparent")
	}

	if _, err := events.Reply(cause, events.SourcePayment, events.TransactionCompletedV1{OrderID: "order-1"}); err == nil {
		t.Error("Reply accepted an invalid payload")
	}
}

// Decode is lenient only where the CloudEvents spec makes attributes optional.
func TestDecodeAcceptsOptionalAttributesMissing(t *testing.T) {
	want := reserved()
	for name, edit := range map[string]func(*cloudevents.Event){
		"no subject":         func(e *cloudevents.Event) { e.SetSubject("") },
		"no dataschema":      func(e *cloudevents.Event) { e.SetDataSchema("") },
		"no datacontenttype": func(e *cloudevents.Event) { e.SetDataContentType("") },
		"charset":            func(e *cloudevents.Event) { e.SetDataContentType("application/json; charset=utf-8") },
		"whitespace":         func(e *cloudevents.Event) { e.DataEncoded = append([]byte(" \n"), append(e.Data(), '\n')...) },
	} {
		e := newEvent(t, events.SourceInventory, want)
		edit(&e)
		got, err := events.Decode[events.InventoryReservedV1](e)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, %v; want %+v", name, got, err, want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	data := func(s string) func(*cloudevents.Event) {
		return func(e *cloudevents.Event) { e.DataEncoded = []byte(s) }
	}
	valid := `{"order_id":"order-1","user_id":"user-1","items":[{"sku":"A","quantity":1}],"total_cents":5}`
	for name, edit := range map[string]func(*cloudevents.Event){
		"unknown field":        data(`{"order_id":"order-1","user_id":"user-1","items":[{"sku":"A","quantity":1}],"total_cents":5,"x":1}`),
		"unknown nested field": data(`{"order_id":"order-1","user_id":"user-1","items":[{"sku":"A","quantity":1,"x":1}],"total_cents":5}`),
		"trailing object":      data(valid + `{}`),
		"trailing garbage":     data(valid + `x`),
		"two objects":          data(valid + "\n" + valid),
		"wrong type":           func(e *cloudevents.Event) { e.SetType(string(events.OrderAccepted)) },
		"unknown type":         func(e *cloudevents.Event) { e.SetType("SOMETHING_ELSE") },
		"wrong dataschema":     func(e *cloudevents.Event) { e.SetDataSchema("urn:ordersaga:events:inventory_reserved:v2") },
		"other's dataschema":   func(e *cloudevents.Event) { e.SetDataSchema(events.DataSchema(events.OrderAccepted)) },
		"subject mismatch":     func(e *cloudevents.Event) { e.SetSubject("order-2") },
		"empty data":           data(``),
		"null":                 data(`null`),
		"array":                data(`[]`),
		"oversized data": data(`{"order_id":"order-1","user_id":"user-1","items":[{"sku":"A","quantity":1}],"total_cents":5}` +
			strings.Repeat(" ", events.MaxDataBytes)),
		"wrong datacontenttype": func(e *cloudevents.Event) { e.SetDataContentType("text/plain") },
		"xml":                   func(e *cloudevents.Event) { e.SetDataContentType("application/xml") },
		"negative total":        data(`{"order_id":"order-1","user_id":"user-1","items":[{"sku":"A","quantity":1}],"total_cents":-5}`),
		"fractional total":      data(`{"order_id":"order-1","user_id":"user-1","items":[{"sku":"A","quantity":1}],"total_cents":5.5}`),
		"string total":          data(`{"order_id":"order-1","user_id":"user-1","items":[{"sku":"A","quantity":1}],"total_cents":"5"}`),
		"missing order_id":      data(`{"user_id":"user-1","items":[{"sku":"A","quantity":1}],"total_cents":5}`),
		"no items":              data(`{"order_id":"order-1","user_id":"user-1","items":[],"total_cents":5}`),
		"bad sku":               data(`{"order_id":"order-1","user_id":"user-1","items":[{"sku":"a b","quantity":1}],"total_cents":5}`),
		"zero quantity":         data(`{"order_id":"order-1","user_id":"user-1","items":[{"sku":"A","quantity":0}],"total_cents":5}`),
		"duplicate sku":         data(`{"order_id":"order-1","user_id":"user-1","items":[{"sku":"A","quantity":1},{"sku":"A","quantity":1}],"total_cents":5}`),
	} {
		e := newEvent(t, events.SourceInventory, reserved())
		edit(&e)
		if _, err := events.Decode[events.InventoryReservedV1](e); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestDataSchemaPerType(t *testing.T) {
	seen := map[string]bool{}
	for _, typ := range allTypes {
		ds := events.DataSchema(typ)
		if seen[ds] || !strings.HasSuffix(ds, ":v1") {
			t.Errorf("%s: dataschema %q is not a unique v1 URI", typ, ds)
		}
		seen[ds] = true
	}
}

func TestDecodeAnyDecodesEachTypeAsItsPayload(t *testing.T) {
	lines := []events.Line{{SKU: "A", Quantity: 1}}
	for _, p := range []events.Payload{
		events.OrderRequestedV1{OrderID: "o", UserID: "u", Items: lines},
		events.InventoryReservedV1{OrderID: "o", UserID: "u", Items: lines, TotalCents: 1},
		events.InventoryNotReservedV1{OrderID: "o", Reason: "r"},
		events.TransactionCompletedV1{OrderID: "o", TransactionID: "t", AmountCents: 1},
		events.TransactionFailedV1{OrderID: "o", TransactionID: "t", AmountCents: 1, Reason: "r"},
		events.OrderAcceptedV1{OrderID: "o", UserID: "u", Items: lines, TotalCents: 1},
		events.OrderShippedV1{OrderID: "o", TrackingID: "T"},
		events.OrderCompletedV1{OrderID: "o", Items: lines},
		events.OrderCancelledV1{OrderID: "o", Items: lines, Reason: "r"},
		events.OrderCancelRequestedV1{OrderID: "o", Reason: events.ReasonTimeout, TotalCents: 1},
	} {
		e, err := events.New("s", p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := events.DecodeAny(e)
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("%s: DecodeAny = %#v, %v; want %#v", p.EventType(), got, err, p)
		}
	}
	e, _ := events.New("s", events.OrderShippedV1{OrderID: "o", TrackingID: "T"})
	e.SetType("ORDER_EXPLODED")
	if _, err := events.DecodeAny(e); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("unknown type: %v, want ErrInvalid", err)
	}
}

// The extension's payload is decoded as strictly as the seed's: an unknown field, a missing or
// empty reason, a negative total and a subject that is not the order are all refused.
func TestDecodeOrderCancelRequestedRejects(t *testing.T) {
	valid := events.OrderCancelRequestedV1{OrderID: "order-1", Reason: events.ReasonCancelledByCustomer, TotalCents: 5}
	e, err := events.New(events.SourceOrder, valid)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := events.Decode[events.OrderCancelRequestedV1](e); err != nil || got != valid {
		t.Fatalf("valid payload: %+v, %v", got, err)
	}
	for name, data := range map[string]string{
		"unknown field":    `{"order_id":"order-1","reason":"timeout","total_cents":5,"x":1}`,
		"missing reason":   `{"order_id":"order-1","total_cents":5}`,
		"empty reason":     `{"order_id":"order-1","reason":"","total_cents":5}`,
		"negative total":   `{"order_id":"order-1","reason":"timeout","total_cents":-1}`,
		"string total":     `{"order_id":"order-1","reason":"timeout","total_cents":"5"}`,
		"missing order_id": `{"reason":"timeout","total_cents":5}`,
		"padded order_id":  `{"order_id":" order-1","reason":"timeout","total_cents":5}`,
		"trailing object":  `{"order_id":"order-1","reason":"timeout","total_cents":5}{}`,
		"other order's id": `{"order_id":"order-2","reason":"timeout","total_cents":5}`,
	} {
		bad := e.Clone()
		bad.DataEncoded = []byte(data)
		if _, err := events.Decode[events.OrderCancelRequestedV1](bad); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}
