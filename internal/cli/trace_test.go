package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/kafka"
)

// TestTraceShowsEventsWithBadDataAndReadsPastTransactionMarkers writes one order's events in a
// Kafka transaction, so that the partition ends in a commit marker, and one of them with data
// that is not JSON. The trace must end (the marker is not a record a consumer waits for) and show
// every event, marking the bad one, in every output format.
func TestTraceShowsEventsWithBadDataAndReadsPastTransactionMarkers(t *testing.T) {
	const topic, order = "broker-topic", "order-1"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()

	requested, err := events.New(events.SourceOrder, events.OrderRequestedV1{OrderID: order, UserID: "u-1",
		Items: []events.Line{{SKU: "BOOK-1", Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	reserved, err := events.New(events.SourceInventory, events.InventoryReservedV1{OrderID: order, UserID: "u-1",
		Items: []events.Line{{SKU: "BOOK-1", Quantity: 2}}, TotalCents: 2500})
	if err != nil {
		t.Fatal(err)
	}
	reserved.SetTime(requested.Time().Add(time.Millisecond))
	garbled := cloudevents.NewEvent()
	garbled.SetID("garbled-1")
	garbled.SetSource("somebody")
	garbled.SetType(string(events.TransactionCompleted))
	garbled.SetSubject(order)
	garbled.SetExtension(events.PartitionKey, order)
	garbled.SetTime(requested.Time().Add(2 * time.Millisecond))
	if err := garbled.SetData("text/plain", []byte("<html>not json</html>")); err != nil {
		t.Fatal(err)
	}

	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("trace-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	ctx := context.Background()
	if err := producer.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, e := range []cloudevents.Event{requested, reserved, garbled} {
		rec, err := kafka.Record(topic, e)
		if err != nil {
			t.Fatal(err)
		}
		if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	v := offline(t).with("ORDERSCTL_KAFKA", strings.Join(brokers, ","), "ORDERSCTL_TOPIC", topic)
	trace := func(args ...string) result {
		t.Helper()
		// The deadline only ends a trace that would never end; it is not what is tested.
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return runCtx(ctx, v, nil, nil, append([]string{"events", "trace", order}, args...)...)
	}

	r := trace()
	if r.code != 0 || !strings.Contains(r.stdout, "3 events") || !strings.Contains(r.stdout, "(data is not JSON (21 bytes, text/plain))") ||
		!strings.Contains(r.stdout, "total 25.00") {
		t.Errorf("trace as a table: %s", r)
	}
	r = trace("-o", "json")
	var tr struct {
		Events []struct {
			Type      string
			Data      json.RawMessage
			DataError string `json:"data_error"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &tr); r.code != 0 || err != nil || len(tr.Events) != 3 {
		t.Fatalf("trace -o json (%v): %s", err, r)
	}
	if e := tr.Events[2]; e.DataError == "" || e.Data != nil || tr.Events[0].Data == nil || tr.Events[0].DataError != "" {
		t.Errorf("trace -o json marks the wrong event: %+v", tr.Events)
	}
	if r := trace("-o", "yaml"); r.code != 0 || !strings.Contains(r.stdout, "data_error: data is not JSON") {
		t.Errorf("trace -o yaml: %s", r)
	}
}
