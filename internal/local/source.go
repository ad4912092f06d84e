package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ordersaga/ordersaga/internal/kafka"
	"github.com/ordersaga/ordersaga/internal/manifests"
)

// KafkaSourceType is the type KafkaSource gives a record that is not a CloudEvent.
const KafkaSourceType = "dev.knative.kafka.event"

// kafkaSource emulates a KafkaSource: it reads its topics as its consumer group and hands each
// record to the broker. Records in the CloudEvents Kafka binding pass through unchanged (so their
// type survives and Triggers match them); plain records are wrapped as KafkaSource does. Offsets
// are committed once the broker has stored the event.
type kafkaSource struct {
	spec    *manifests.KafkaSource
	kafka   kafka.Config
	ingress *Ingress
}

func (s *kafkaSource) Run(ctx context.Context) error {
	offset := kgo.NewOffset().AtEnd()
	if s.spec.Spec.InitialOffset == manifests.OffsetEarliest {
		offset = kgo.NewOffset().AtStart()
	}
	client, err := s.kafka.NewClient(
		kgo.ConsumerGroup(s.spec.Spec.ConsumerGroup),
		kgo.ConsumeTopics(s.spec.Spec.Topics...),
		kgo.ConsumeResetOffset(offset),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(50*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer client.Close()
	for {
		fetches := client.PollRecords(ctx, 1000)
		if ctx.Err() != nil {
			return nil
		}
		var records []*kgo.Record
		fetches.EachRecord(func(r *kgo.Record) { records = append(records, r) })
		events := make([]cloudevents.Event, len(records))
		for i, r := range records {
			events[i] = s.toEvent(r)
		}
		// The whole batch is produced at once (one round trip, not one per record); what the
		// broker did not take is retried until it does, and only then is the batch committed.
		for len(events) > 0 && ctx.Err() == nil {
			if events = s.ingress.ProduceAll(ctx, events); len(events) > 0 {
				slog.Warn("kafka source: broker unavailable; retrying", "events", len(events))
				select { // a plain sleep would hold up shutdown
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
		if len(records) > 0 && ctx.Err() == nil {
			if err := client.CommitRecords(ctx, records...); err != nil {
				slog.Warn("kafka source: commit", "err", err)
			}
		}
	}
}

// toEvent is the CloudEvent KafkaSource makes of r.
func (s *kafkaSource) toEvent(r *kgo.Record) cloudevents.Event {
	e, err := kafka.Event(r)
	if err == nil {
		return e
	}
	if !errors.Is(err, kafka.ErrNotCloudEvent) {
		slog.Warn("kafka source: malformed CloudEvent record; wrapping it as a plain record", "offset", r.Offset, "err", err)
	}
	w := cloudevents.NewEvent()
	w.SetID(fmt.Sprintf("partition:%d/offset:%d", r.Partition, r.Offset))
	w.SetSource(fmt.Sprintf("/apis/v1/namespaces/%s/kafkasources/%s#%s", s.spec.Namespace, s.spec.Name, r.Topic))
	w.SetSubject(fmt.Sprintf("partition:%d#%d", r.Partition, r.Offset))
	w.SetType(KafkaSourceType)
	w.SetTime(r.Timestamp)
	if len(r.Key) > 0 {
		w.SetExtension("key", string(r.Key))
	}
	_ = w.SetData(cloudevents.ApplicationJSON, r.Value)
	return w
}
