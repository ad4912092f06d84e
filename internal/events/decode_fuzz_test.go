package events_test

import (
	"errors"
	"reflect"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/events"
)

// decoder decodes one payload type behind the Payload interface, so the fuzzer can pick one.
type decoder struct {
	sample events.Payload
	decode func(cloudevents.Event) (events.Payload, error)
}

func decoderOf[P events.Payload](sample P) decoder {
	return decoder{sample, func(e cloudevents.Event) (events.Payload, error) { return events.Decode[P](e) }}
}

var lines = []events.Line{{SKU: "SKU-1", Quantity: 2}, {SKU: "b.2", Quantity: events.MaxQuantity}}

// decoders has one entry per event type, in the order of events.All and then events.Extensions.
var decoders = []decoder{
	decoderOf(events.OrderRequestedV1{OrderID: "o-1", UserID: "u-1", Items: lines}),
	decoderOf(events.InventoryReservedV1{OrderID: "o-1", UserID: "u-1", Items: lines, TotalCents: 1999}),
	decoderOf(events.InventoryNotReservedV1{OrderID: "o-1", Reason: events.ReasonInsufficient, SKU: "SKU-1"}),
	decoderOf(events.TransactionCompletedV1{OrderID: "o-1", TransactionID: "t-1", AmountCents: 1999}),
	decoderOf(events.TransactionFailedV1{OrderID: "o-1", TransactionID: "t-1", AmountCents: 0, Reason: events.ReasonPaymentDeclined}),
	decoderOf(events.OrderAcceptedV1{OrderID: "o-1", UserID: "u-1", Items: lines, TotalCents: 1999}),
	decoderOf(events.OrderShippedV1{OrderID: "o-1", TrackingID: "TRK-1"}),
	decoderOf(events.OrderCompletedV1{OrderID: "o-1", Items: lines}),
	decoderOf(events.OrderCancelledV1{OrderID: "o-1", Items: lines, Reason: events.ReasonPaymentDeclined}),
	decoderOf(events.OrderCancelRequestedV1{OrderID: "o-1", Reason: events.ReasonTimeout, TotalCents: 1999}),
}

// allTypes is every event type the contract knows: the seed's and the extensions.
var allTypes = append(append([]events.Type(nil), events.All...), events.Extensions...)

func TestDecodersCoverEveryType(t *testing.T) {
	if len(decoders) != len(allTypes) {
		t.Fatalf("%d decoders for %d types", len(decoders), len(allTypes))
	}
	for i, typ := range allTypes {
		if decoders[i].sample.EventType() != typ {
			t.Errorf("decoders[%d] is %s, want %s", i, decoders[i].sample.EventType(), typ)
		}
	}
}

// FuzzDecode feeds arbitrary data, as any of the types, to Decode. It must never panic, must
// reject with ErrInvalid only, and whatever it accepts must be valid and survive the trip a reply
// makes: New re-encodes it, and Decode gives back the same value. Otherwise a function could emit
// an event its consumer dead-letters.
func FuzzDecode(f *testing.F) {
	for i, d := range decoders {
		e, err := events.New("fuzz", d.sample)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(e.Data(), uint8(i), e.Subject())
		f.Add(e.Data(), uint8(i), "")
		f.Add(e.Data(), uint8(i+1), "")
	}
	f.Add([]byte(`{"order_id":"o","user_id":"u","items":[{"sku":"A","quantity":1}],"total_cents":1} {}`), uint8(1), "")
	f.Add([]byte(`{"ORDER_ID":"o","Reason":"r","sku":"\u003c\ud800"}`), uint8(2), "o")
	f.Add([]byte(`{"order_id":"o","tracking_id":"\xff\xfe"}`), uint8(6), "")
	f.Add([]byte(`null`), uint8(0), "")
	f.Add([]byte(``), uint8(0), "")

	f.Fuzz(func(t *testing.T, data []byte, kind uint8, subject string) {
		d := decoders[int(kind)%len(decoders)]
		e := cloudevents.NewEvent()
		e.SetID("fuzz")
		e.SetSource("fuzz")
		e.SetType(string(d.sample.EventType()))
		e.SetSubject(subject)
		if err := e.SetData(cloudevents.ApplicationJSON, data); err != nil {
			t.Fatal(err)
		}
		p, err := d.decode(e)
		if err != nil {
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("rejected without ErrInvalid: %v", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted %+v, which does not validate: %v", p, err)
		}
		again, err := events.New("fuzz", p)
		if err != nil {
			t.Fatalf("accepted %+v, which New rejects: %v", p, err)
		}
		q, err := d.decode(again)
		if err != nil {
			t.Fatalf("accepted %+v, but not once re-encoded (%d bytes): %v", p, len(again.Data()), err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("re-encoding changed %+v into %+v", p, q)
		}
	})
}
