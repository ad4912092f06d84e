package local

import (
	"context"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ordersaga/ordersaga/internal/kafka"
	"github.com/ordersaga/ordersaga/internal/manifests"
)

func TestKafkaSourceWrapsPlainRecordsAndPassesCloudEventsThrough(t *testing.T) {
	const sourceTopic = "orders.events"
	brokers := kafkaCluster(t, 12, sourceTopic, testTopic)
	in := &Ingress{client: kafkaClient(t, brokers, kgo.RequiredAcks(kgo.AllISRAcks())), topic: testTopic}
	src := &kafkaSource{
		spec: &manifests.KafkaSource{Namespace: "ordersaga", Name: "orders-events", Spec: manifests.KafkaSourceSpec{
			BootstrapServers: brokers, Topics: []string{sourceTopic}, ConsumerGroup: "test-source",
			InitialOffset: manifests.OffsetEarliest,
		}},
		kafka: kafka.Config{Brokers: brokers}, ingress: in,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("source: %v", err)
		}
	})

	p := kafkaClient(t, brokers)
	plain := &kgo.Record{Topic: sourceTopic, Key: []byte("plain-key"), Value: []byte(`{"hello":"world"}`)}
	if err := p.ProduceSync(context.Background(), plain).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ce := testEvent(t, "ORDER_REQUESTED", "order-7", 1)
	produce(t, p, sourceTopic, ce)

	wrapped := findOnTopic(t, brokers, testTopic, func(e cloudevents.Event) bool { return e.Type() == KafkaSourceType })
	if wrapped.Extensions()["key"] != "plain-key" {
		t.Errorf("wrapped record's key extension = %v, want plain-key", wrapped.Extensions()["key"])
	}
	if string(wrapped.Data()) != `{"hello":"world"}` {
		t.Errorf("wrapped record's data = %s, want the record's value", wrapped.Data())
	}
	if wrapped.Source() != "/apis/v1/namespaces/ordersaga/kafkasources/orders-events#"+sourceTopic {
		t.Errorf("wrapped record's source = %q", wrapped.Source())
	}

	through := findOnTopic(t, brokers, testTopic, func(e cloudevents.Event) bool { return e.ID() == ce.ID() })
	if through.Type() != "ORDER_REQUESTED" || through.Source() != ce.Source() || through.Subject() != "order-7" ||
		through.Extensions()["partitionkey"] != "order-7" || string(through.Data()) != string(ce.Data()) {
		t.Errorf("CloudEvent record changed on its way through the source:\n got %v\nwant %v", through, ce)
	}
}

// A batch with an event Kafka will never take (too large) writes the others and drops that one
// rather than asking for it to be retried for ever, which would stall the KafkaSource.
func TestProduceAllDropsWhatKafkaCanNeverTake(t *testing.T) {
	brokers := kafkaCluster(t, 1, testTopic)
	in := &Ingress{client: kafkaClient(t, brokers, kgo.ProducerBatchMaxBytes(2048)), topic: testTopic}
	small := testEvent(t, "test.step", "order-1", 0)
	huge := testEvent(t, "test.step", "order-2", 0)
	if err := huge.SetData(cloudevents.ApplicationJSON, map[string]string{"pad": strings.Repeat("x", 8192)}); err != nil {
		t.Fatal(err)
	}
	if retry := in.ProduceAll(context.Background(), []cloudevents.Event{small, huge}); len(retry) != 0 {
		t.Fatalf("%d events to retry, want none (the huge one can never be written)", len(retry))
	}
	got := findOnTopic(t, brokers, testTopic, func(e cloudevents.Event) bool { return e.ID() == small.ID() })
	if got.ID() != small.ID() {
		t.Errorf("the small event was not written")
	}
}
