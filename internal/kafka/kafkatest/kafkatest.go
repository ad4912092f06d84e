// Package kafkatest reads what tests put on a Kafka topic.
package kafkatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ordersaga/ordersaga/internal/kafka"
)

// Published returns every CloudEvent on topic's single partition so far, in order. It asks for
// the partition's end offset first and reads up to it, so a busy machine that is slow to fetch
// cannot make the list come back short. opts are extra client options (credentials). A record
// that is not a CloudEvent, or whose key is not its subject, fails tb.
func Published(tb testing.TB, brokers []string, topic string, opts ...kgo.Opt) []cloudevents.Event {
	tb.Helper()
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	end, err := endOffset(ctx, client, topic)
	if err != nil {
		tb.Fatalf("end offset of %s: %v", topic, err)
	}
	var out []cloudevents.Event
	for next := int64(0); next < end; {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			tb.Fatalf("read %d of the %d records of %s: %v", next, end, topic, ctx.Err())
		}
		fetches.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			e, err := kafka.Event(r)
			if err != nil {
				tb.Errorf("record %d is not a CloudEvent: %v", r.Offset, err)
				return
			}
			if string(r.Key) != e.Subject() {
				tb.Errorf("record key %q, want the order id %q", r.Key, e.Subject())
			}
			out = append(out, e)
		})
	}
	return out
}

// endOffset is the offset the next record of topic's partition 0 will get.
func endOffset(ctx context.Context, client *kgo.Client, topic string) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	p := kmsg.NewListOffsetsRequestTopicPartition()
	p.Timestamp = -1 // the latest offset
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return 0, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("list offsets answered for %d topics", len(resp.Topics))
	}
	part := resp.Topics[0].Partitions[0]
	return part.Offset, kerr.ErrorForCode(part.ErrorCode)
}
