package eventlog_test

import (
	"context"
	"errors"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ordersaga/ordersaga/internal/eventlog"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/kafka"
)

// A trace holds each event of its order once (a redelivery is dropped), in time order, with the
// hop after its cause, the owner and the trace id its events carry; another order's events and
// records that are not CloudEvents stay out.
func TestReadTrace(t *testing.T) {
	const topic, order, other, user = "topic", "order-1", "order-2", "user-1"
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	_, cfg, producer := newKafka(t, topic, 3)
	ctx := context.Background()

	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	event := func(source string, p events.Payload, orderID string, offset time.Duration) cloudevents.Event {
		e, err := events.New(source, p)
		if err != nil {
			t.Fatal(err)
		}
		e.SetSubject(orderID)
		e.SetExtension(events.PartitionKey, orderID)
		e.SetExtension("traceparent", traceparent)
		e.SetTime(at.Add(offset))
		return e
	}
	lines := []events.Line{{SKU: "BOOK-1", Quantity: 1}}
	requested := event(events.SourceOrder, events.OrderRequestedV1{OrderID: order, UserID: user, Items: lines}, order, 0)
	reserved := event(events.SourceInventory, events.InventoryReservedV1{OrderID: order, UserID: user, Items: lines, TotalCents: 100}, order, 3*time.Millisecond)
	elsewhere := event(events.SourceOrder, events.OrderRequestedV1{OrderID: other, UserID: "user-2", Items: lines}, other, time.Millisecond)
	// Written out of time order, and reserved twice (a redelivery).
	for _, e := range []cloudevents.Event{reserved, requested, elsewhere, reserved} {
		rec, err := kafka.Record(topic, e)
		if err != nil {
			t.Fatal(err)
		}
		if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(order), Value: []byte("not an event")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	r, err := eventlog.Open(ctx, cfg, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tr, err := eventlog.ReadTrace(ctx, r, order, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Events) != 2 || tr.Events[0].Type != string(events.OrderRequested) || tr.Events[1].Type != string(events.InventoryReserved) {
		t.Fatalf("trace events %+v, want ORDER_REQUESTED then INVENTORY_RESERVED once each", tr.Events)
	}
	if s := tr.Events[1]; s.After != string(events.OrderRequested) || s.Hop != 3*time.Millisecond || s.HopMS == nil || *s.HopMS != 3 || s.ElapsedMS != 3 {
		t.Errorf("INVENTORY_RESERVED: after %q, hop %v, elapsed %v ms; want 3 ms after ORDER_REQUESTED", s.After, s.Hop, s.ElapsedMS)
	}
	if tr.UserID != user || tr.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || tr.TotalMS != 3 {
		t.Errorf("trace owner %q, id %q, total %v ms", tr.UserID, tr.TraceID, tr.TotalMS)
	}

	// From a time after its events: none of them. The topic is read from the records' own
	// timestamps, their produce time (now), not the events' time attribute.
	if _, err := eventlog.ReadTrace(ctx, r, order, time.Now().Add(time.Hour)); !errors.Is(err, eventlog.ErrNoEvents) {
		t.Errorf("trace from after the order's events: %v, want ErrNoEvents", err)
	}
	if _, err := eventlog.ReadTrace(ctx, r, "no-such-order", time.Time{}); !errors.Is(err, eventlog.ErrNoEvents) {
		t.Errorf("trace of an order with no events: %v, want ErrNoEvents", err)
	}
	if _, err := eventlog.Open(ctx, cfg, "no-such-topic"); !errors.Is(err, eventlog.ErrNoTopic) {
		t.Errorf("open a missing topic: %v, want ErrNoTopic", err)
	}
}

// newKafka is an embedded broker with topic in partitions partitions, and a producer to it; both
// close when t ends.
func newKafka(t *testing.T, topic string, partitions int32) (*kfake.Cluster, kafka.Config, *kgo.Client) {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cfg := kafka.Config{Brokers: cluster.ListenAddrs()}
	producer, err := cfg.NewClient(kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)
	return cluster, cfg, producer
}
