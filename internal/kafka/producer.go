package kafka

import (
	"context"
	"fmt"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer writes CloudEvents to one topic.
type Producer struct {
	client *kgo.Client
	topic  string
}

// NewProducer connects to Kafka as cfg says. Records are acknowledged by all in-sync replicas and
// sent without linger: the outbox publishes one order at a time on the request path. Errors are
// those of Config.NewClient (an unusable cfg wraps ErrConfig).
func NewProducer(cfg Config, topic string) (*Producer, error) {
	client, err := cfg.NewClient(
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.AllowAutoTopicCreation(),
	)
	if err != nil {
		return nil, err
	}
	return &Producer{client: client, topic: topic}, nil
}

// Publish writes es and waits until every one is acknowledged.
func (p *Producer) Publish(ctx context.Context, es ...cloudevents.Event) error {
	records := make([]*kgo.Record, 0, len(es))
	for _, e := range es {
		r, err := Record(p.topic, e)
		if err != nil {
			return err
		}
		records = append(records, r)
	}
	if err := p.client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("produce to %s: %w", p.topic, err)
	}
	return nil
}

// Close flushes and disconnects.
func (p *Producer) Close() { p.client.Close() }
