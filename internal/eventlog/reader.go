// Package eventlog reads the saga's events from the broker's Kafka topic as an observer: with no
// consumer group, so it never takes an event from a function and leaves no group behind. The
// CLI's event commands (ordersctl events tail, trace, orders watch) and the gateway's web console
// read through it.
package eventlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ordersaga/ordersaga/internal/kafka"
)

// Errors of Open that a caller explains in its own words (the CLI names its flags).
var (
	// ErrUnreachable: the brokers did not answer. A broker requiring SASL closes the connection
	// of a client that does not log in, or fails to, so credentials are as likely a cause.
	ErrUnreachable = errors.New("kafka unreachable")
	// ErrNoTopic: the topic does not exist.
	ErrNoTopic = errors.New("no such topic")
	// ErrConfig: the configuration makes no client (a malformed broker address, say).
	ErrConfig = errors.New("bad kafka configuration")
)

// Special ListOffsets timestamps, for Offsets.
const (
	Latest   = -1
	Earliest = -2
)

// Reader reads one topic WITHOUT a consumer group: it assigns itself every partition at offsets
// it looked up, and commits nothing.
type Reader struct {
	admin      *kgo.Client
	consumer   *kgo.Client
	kafka      kafka.Config
	topic      string
	partitions []int32
	start      map[int32]int64
}

// Open connects to cfg's brokers and finds topic's partitions. Errors wrap ErrConfig,
// ErrUnreachable, ErrNoTopic, or Kafka's own (kerr: failed authentication, a missing ACL).
func Open(ctx context.Context, cfg kafka.Config, topic string) (*Reader, error) {
	admin, err := cfg.NewClient(kgo.DialTimeout(2 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	r := &Reader{admin: admin, kafka: cfg, topic: topic}
	mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(mctx, admin)
	if err != nil {
		admin.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ke *kerr.Error
		if errors.As(err, &ke) || strings.Contains(err.Error(), "SASL") {
			return nil, err
		}
		return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, strings.Join(cfg.Brokers, ","), err)
	}
	for _, mt := range resp.Topics {
		if err := kerr.ErrorForCode(mt.ErrorCode); err != nil {
			admin.Close()
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return nil, fmt.Errorf("topic %q: %w", topic, ErrNoTopic)
			}
			return nil, fmt.Errorf("topic %q: %w", topic, err)
		}
		for _, p := range mt.Partitions {
			r.partitions = append(r.partitions, p.Partition)
		}
	}
	if len(r.partitions) == 0 {
		admin.Close()
		return nil, fmt.Errorf("topic %q has no partitions on Kafka at %s", topic, strings.Join(cfg.Brokers, ","))
	}
	slices.Sort(r.partitions)
	return r, nil
}

// Topic is the topic read.
func (r *Reader) Topic() string { return r.topic }

// Kafka is how the reader reaches the brokers.
func (r *Reader) Kafka() kafka.Config { return r.kafka }

// Offsets looks up, for every partition, the offset at ts (Latest, Earliest, or Unix
// milliseconds: the first record at or after it, else the end).
func (r *Reader) Offsets(ctx context.Context, ts int64) (map[int32]int64, error) {
	if ts < 0 {
		return r.listOffsets(ctx, ts)
	}
	// A partition with no record at or after ts starts at its end, as it was before ts was
	// looked up: a record produced in between (the event a watch waits for) is then read, where
	// the end as it is after the lookup could already be past it.
	end, err := r.listOffsets(ctx, Latest)
	if err != nil {
		return nil, err
	}
	out, err := r.listOffsets(ctx, ts)
	if err != nil {
		return nil, err
	}
	for p, o := range out {
		if o < 0 {
			out[p] = end[p]
		}
	}
	return out, nil
}

// listOffsets asks the broker for every partition's offset at ts, as ListOffsets answers it
// (-1 where no record is at or after a timestamp).
func (r *Reader) listOffsets(ctx context.Context, ts int64) (map[int32]int64, error) {
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
	return out, nil
}

// SeekTime opens the consumer at the offsets of time t.
func (r *Reader) SeekTime(ctx context.Context, t time.Time) error {
	offs, err := r.Offsets(ctx, t.UnixMilli())
	if err != nil {
		return err
	}
	return r.Seek(offs)
}

// Seek opens the consumer on every partition at the given offsets.
func (r *Reader) Seek(start map[int32]int64) error {
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
	if r.consumer != nil {
		r.consumer.Close()
	}
	r.consumer, r.start = c, start
	return nil
}

// Each calls fn for every record read until ctx ends, fn returns false, or (when end is not
// nil) every partition has been read up to end, its high watermark when reading began. It
// returns ctx's error when ctx ended it, and a fetch's error (kerr for a refusal) otherwise.
//
// The offset before the high watermark often holds a transaction marker, which a consumer is not
// given by default, so waiting for a record at end-1 could wait for ever. The consumer keeps
// control records instead (fn never sees them): they show how far it has read. Offsets missing
// after compaction are skipped over; a partition whose very last records were compacted away
// (the broker topic is not compacted) would still be waited for until ctx ends.
func (r *Reader) Each(ctx context.Context, end map[int32]int64, fn func(Entry) bool) error {
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
				if !fn(entryOf(rec)) {
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

// Follow sends order's events to ch until ctx ends.
func (r *Reader) Follow(ctx context.Context, order string, ch chan<- Entry) {
	_ = r.Each(ctx, nil, func(e Entry) bool {
		if !e.NotEvent && e.Order() == order {
			select {
			case ch <- e:
			case <-ctx.Done():
				return false
			}
		}
		return true
	})
}

// Close closes the connections.
func (r *Reader) Close() {
	if r.consumer != nil {
		r.consumer.Close()
	}
	r.admin.Close()
}
