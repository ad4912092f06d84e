package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
)

func TestRecordRoundTripsInBinaryMode(t *testing.T) {
	e := eventstest.New(t, events.SourceInventory, events.InventoryReservedV1{
		OrderID: "o-1", UserID: "u", Items: []events.Line{{SKU: "A", Quantity: 1}}, TotalCents: 100})
	e.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	r, err := Record("orders.events", e)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Key) != "o-1" {
		t.Errorf("key %q, want the partition key o-1", r.Key)
	}
	headers := map[string]string{}
	for _, h := range r.Headers {
		headers[h.Key] = string(h.Value)
	}
	for k, want := range map[string]string{"ce_type": "INVENTORY_RESERVED", "ce_id": e.ID(), "ce_source": events.SourceInventory,
		"ce_subject": "o-1", "ce_partitionkey": "o-1", "content-type": "application/json", "ce_specversion": "1.0"} {
		if headers[k] != want {
			t.Errorf("header %s = %q, want %q", k, headers[k], want)
		}
	}
	back, err := Event(r)
	if err != nil {
		t.Fatal(err)
	}
	back.DataBase64 = e.DataBase64 // how the data travelled, not part of the event
	if back.String() != e.String() {
		t.Errorf("round trip changed the event:\n%s\nwant\n%s", back, e)
	}
}

func TestEventRejectsPlainRecords(t *testing.T) {
	if _, err := Event(&kgo.Record{Value: []byte(`{"hello":"world"}`)}); err != ErrNotCloudEvent {
		t.Errorf("plain record: %v, want ErrNotCloudEvent", err)
	}
	bad := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_type", Value: []byte("X")}}}
	if _, err := Event(bad); err == nil {
		t.Error("a record without ce_id and ce_source decoded")
	}
	structured := &kgo.Record{Value: []byte(`{"specversion":"1.0","id":"1","source":"s","type":"T","data":{"a":1}}`),
		Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/cloudevents+json")}}}
	if e, err := Event(structured); err != nil || e.Type() != "T" {
		t.Errorf("structured record: %v, %v", e, err)
	}
}

func FuzzEvent(f *testing.F) {
	f.Add([]byte(`{"order_id":"o"}`), "1.0", "application/json", "2026-01-01T00:00:00Z")
	f.Add([]byte(`{}`), "", "application/cloudevents+json", "")
	f.Fuzz(func(t *testing.T, value []byte, specversion, contentType, timeHeader string) {
		r := &kgo.Record{Value: value, Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte(specversion)}, {Key: "ce_id", Value: []byte("1")},
			{Key: "ce_source", Value: []byte("s")}, {Key: "ce_type", Value: []byte("T")},
			{Key: "ce_time", Value: []byte(timeHeader)}, {Key: "content-type", Value: []byte(contentType)},
		}}
		e, err := Event(r) // must not panic
		if err == nil {
			if _, err := Record("t", e); err != nil {
				t.Errorf("a decoded event does not encode: %v", err)
			}
		}
	})
}
