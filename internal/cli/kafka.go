package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/kafka"
)

// reader reads the broker topic WITHOUT a consumer group: it assigns itself every partition at
// offsets it looked up, and commits nothing, so it never takes a message from another consumer
// and leaves no group behind.
type reader struct {
	admin      *kgo.Client
	consumer   *kgo.Client
	kafka      kafka.Config
	topic      string
	partitions []int32
	start      map[int32]int64
}

// followed is one event read from the topic, with its time (the event's, else the record's).
type followed struct {
	event     cloudevents.Event
	time      time.Time
	record    *kgo.Record
	notEvent  bool // a record that is not a CloudEvent
	partition int32
	offset    int64
}

// newReader connects to --kafka and finds --topic's partitions.
func (a *app) newReader(ctx context.Context) (*reader, error) {
	var brokers []string
	for _, b := range strings.Split(a.kafka, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		return nil, usagef("--kafka names no broker")
	}
	cfg, err := a.kafkaAuth.config(brokers)
	if err != nil {
		return nil, err
	}
	admin, err := cfg.NewClient(kgo.DialTimeout(2 * time.Second))
	if err != nil {
		return nil, usagef("--kafka %q: %v", a.kafka, err)
	}
	r := &reader{admin: admin, kafka: cfg, topic: a.topic}
	mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(a.topic)
	req.Topics = append(req.Topics, t)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(mctx, admin)
	if err != nil {
		admin.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if aerr := authError(err, cfg); aerr != nil {
			return nil, aerr
		}
		return nil, unreachable(a.kafka, cfg)
	}
	for _, mt := range resp.Topics {
		if err := kerr.ErrorForCode(mt.ErrorCode); err != nil {
			admin.Close()
			if aerr := authError(err, cfg); aerr != nil {
				return nil, aerr
			}
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return nil, fmt.Errorf("topic %q does not exist on Kafka at %s: check --topic (the broker's topic is %s by default)", a.topic, a.kafka, DefaultTopic)
			}
			return nil, fmt.Errorf("topic %q: %w", a.topic, err)
		}
		for _, p := range mt.Partitions {
			r.partitions = append(r.partitions, p.Partition)
		}
	}
	if len(r.partitions) == 0 {
		admin.Close()
		return nil, fmt.Errorf("topic %q has no partitions on Kafka at %s", a.topic, a.kafka)
	}
	slices.Sort(r.partitions)
	return r, nil
}

// Special ListOffsets timestamps.
const (
	latest   = -1
	earliest = -2
)

// offsets looks up, for every partition, the offset at ts (latest, earliest, or Unix
// milliseconds: the first record at or after it, else the end).
func (r *reader) offsets(ctx context.Context, ts int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = r.topic
	for _, p := range r.partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, ts
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, r.admin)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", r.topic, err)
	}
	out := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets of %s[%d]: %w", r.topic, rp.Partition, err)
			}
			out[rp.Partition] = rp.Offset
		}
	}
	if ts >= 0 {
		// No record at or after ts in a partition: start at its end.
		var end map[int32]int64
		for p, o := range out {
			if o < 0 {
				if end == nil {
					if end, err = r.offsets(ctx, latest); err != nil {
						return nil, err
					}
				}
				out[p] = end[p]
			}
		}
	}
	return out, nil
}

// startAt opens the consumer at the offsets of time t.
func (r *reader) startAt(ctx context.Context, t time.Time) error {
	offs, err := r.offsets(ctx, t.UnixMilli())
	if err != nil {
		return err
	}
	return r.open(offs)
}

// open assigns the consumer every partition at the given offsets.
func (r *reader) open(start map[int32]int64) error {
	assign := map[int32]kgo.Offset{}
	for p, o := range start {
		assign[p] = kgo.NewOffset().At(o)
	}
	c, err := r.kafka.NewClient(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.topic: assign}),
		kgo.KeepControlRecords(), // to see the end of a partition that ends in a transaction marker
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return err
	}
	r.consumer, r.start = c, start
	return nil
}

// each calls fn for every record read until ctx ends, fn returns false, or (when end is not
// nil) every partition has been read up to end, its high watermark when reading began.
//
// The offset before the high watermark often holds a transaction marker, which a consumer is not
// given by default, so waiting for a record at end-1 could wait for ever. The consumer keeps
// control records instead (fn never sees them): they show how far it has read. Offsets missing
// after compaction are skipped over; a partition whose very last records were compacted away
// (the broker topic is not compacted) would still be waited for until ctx ends.
func (r *reader) each(ctx context.Context, end map[int32]int64, fn func(followed) bool) error {
	pending := map[int32]bool{}
	for p, o := range end {
		if r.start[p] < o {
			pending[p] = true
		}
	}
	for end == nil || len(pending) > 0 {
		fetches := r.consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.Canceled) {
				if aerr := authError(fe.Err, r.kafka); aerr != nil {
					return aerr
				}
				return fmt.Errorf("read %s[%d] from Kafka at %s: %w", fe.Topic, fe.Partition, strings.Join(r.kafka.Brokers, ","), fe.Err)
			}
		}
		stop := false
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if stop {
				return
			}
			for _, rec := range p.Records {
				if end != nil && rec.Offset >= end[rec.Partition] {
					delete(pending, rec.Partition)
					return
				}
				if end != nil && rec.Offset+1 >= end[rec.Partition] {
					delete(pending, rec.Partition)
				}
				if rec.Attrs.IsControl() {
					continue
				}
				if !fn(followedOf(rec)) {
					stop = true
					return
				}
			}
		})
		if stop {
			return nil
		}
	}
	return nil
}

// followedOf reads a record as a CloudEvent in the Kafka binding, when it is one.
func followedOf(rec *kgo.Record) followed {
	f := followed{record: rec, time: rec.Timestamp, partition: rec.Partition, offset: rec.Offset}
	e, err := kafka.Event(rec)
	if err != nil {
		f.notEvent = true
		return f
	}
	f.event = e
	if !e.Time().IsZero() {
		f.time = e.Time()
	}
	return f
}

// follow sends id's events to ch until ctx ends.
func (r *reader) follow(ctx context.Context, id string, ch chan<- followed) {
	_ = r.each(ctx, nil, func(f followed) bool {
		if !f.notEvent && orderOf(f) == id {
			select {
			case ch <- f:
			case <-ctx.Done():
				return false
			}
		}
		return true
	})
}

func (r *reader) close() {
	if r.consumer != nil {
		r.consumer.Close()
	}
	r.admin.Close()
}

// orderOf is the order an event belongs to: its subject, partition key, record key or the
// order_id in its data.
func orderOf(f followed) string {
	if f.notEvent {
		return string(f.record.Key)
	}
	if s := f.event.Subject(); s != "" {
		return s
	}
	if v, ok := f.event.Extensions()[events.PartitionKey]; ok {
		if s, ok := v.(string); ok && s != "" {
			return s
		}
	}
	if len(f.record.Key) > 0 {
		return string(f.record.Key)
	}
	var d struct {
		OrderID string `json:"order_id"`
	}
	_ = json.Unmarshal(f.event.Data(), &d)
	return d.OrderID
}

// eventDetail is the one thing worth showing of an event's data beside its type.
func eventDetail(e cloudevents.Event) string {
	var d struct {
		Reason        string        `json:"reason"`
		SKU           string        `json:"sku"`
		TrackingID    string        `json:"tracking_id"`
		AmountCents   *int64        `json:"amount_cents"`
		TotalCents    *int64        `json:"total_cents"`
		Items         []events.Line `json:"items"`
		TransactionID string        `json:"transaction_id"`
	}
	if json.Unmarshal(e.Data(), &d) != nil {
		return ""
	}
	switch {
	case d.Reason != "" && d.SKU != "":
		return d.Reason + " (" + d.SKU + ")"
	case d.Reason != "":
		return d.Reason
	case d.TrackingID != "":
		return "tracking " + d.TrackingID
	case d.AmountCents != nil:
		return "amount " + money(*d.AmountCents)
	case d.TotalCents != nil:
		return "total " + money(*d.TotalCents)
	case len(d.Items) > 0:
		lines := make([]client.Line, len(d.Items))
		for i, l := range d.Items {
			lines[i] = client.Line(l)
		}
		return linesText(lines)
	}
	return ""
}

// unreachable explains a broker that did not answer. A broker that requires SASL closes the
// connection of a client that does not log in, or fails to (the embedded one does so rather than
// answer an authentication error), so credentials are as likely a cause as a stopped stack.
func unreachable(brokers string, cfg kafka.Config) error {
	if cfg.Mechanism == "" {
		return fmt.Errorf("cannot reach Kafka at %s as an anonymous client: is `make run` running? (or point --kafka / ORDERSCTL_KAFKA at a broker) "+
			"A broker requiring SASL, as the local stack's does, closes the connection: run where its data folder is (for %s), "+
			"or give --kafka-user and ORDERSCTL_KAFKA_PASSWORD", brokers, kafka.CredentialsFile)
	}
	return fmt.Errorf("cannot reach Kafka at %s as %s: is `make run` running? (or point --kafka / ORDERSCTL_KAFKA at a broker) "+
		"Is the password right? A broker closes the connection of a failed login", brokers, cfg.Username)
}
