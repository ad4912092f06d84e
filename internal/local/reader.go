package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ordersaga/ordersaga/internal/kafka"
)

// topicReader fetches the broker topic once for all the Triggers of the stack and hands each
// Trigger its own copy of the stream (a triggerFeed), while each Trigger keeps its own consumer
// group's committed offsets, as on a cluster.
//
// Why not one consumer per Trigger, as the Kafka broker's dispatcher has: the embedded broker then
// serves every record to ten consumers, and fetching was most of the local data plane's CPU.
// Here a record is fetched once (each Trigger decodes only the records of its type). Offsets are committed for each Trigger's group as a
// "simple" commit (no group membership), so `kafka-consumer-groups` and the lag of each Trigger
// read exactly as before. What differs from a cluster: one stack reads the topic (two stacks on
// one Kafka would both deliver everything, where groups would split the partitions), and a
// Trigger more than backlogLimit records behind holds back the fetch for all (a cluster's
// Triggers never wait for each other).
type topicReader struct {
	kafka kafka.Config
	topic string

	mu    sync.Mutex
	feeds []*triggerFeed
	open  sync.WaitGroup // feeds whose dispatcher still runs
}

// backlogLimit is how far behind the fetch (records fetched and not yet taken) one Trigger may
// fall before the reader stops fetching for all of them.
const backlogLimit = 20000

// commitInterval is how often finished offsets are committed (and once more at shutdown).
const commitInterval = 500 * time.Millisecond

func newTopicReader(cfg kafka.Config, topic string) *topicReader {
	return &topicReader{kafka: cfg, topic: topic}
}

// subscribe adds a Trigger's feed: group is its consumer group, keep says whether a record may be
// for it at all (records it cannot take are marked done at once, without a trip through the
// dispatcher). Call it before Run.
func (tr *topicReader) subscribe(group string, keep func(*kgo.Record) bool) *triggerFeed {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	f := &triggerFeed{group: group, keep: keep, progress: newCommitTracker(), ready: make(chan struct{}, 1),
		marks: map[int32]kgo.EpochOffset{}, highest: map[int32]int64{}, reader: tr}
	tr.feeds = append(tr.feeds, f)
	tr.open.Add(1)
	return f
}

// Run fetches until ctx ends, then waits for every feed's dispatcher to stop and commits what
// they finished.
func (tr *topicReader) Run(ctx context.Context) error {
	tr.mu.Lock()
	feeds := append([]*triggerFeed(nil), tr.feeds...)
	tr.mu.Unlock()

	admin, err := tr.kafka.NewClient()
	if err != nil {
		return err
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	start, err := tr.waitForTopic(ctx, adm, feeds)
	if err != nil || start == nil {
		return err // start is nil when ctx ended first: nothing was fetched, nothing to commit
	}
	client, err := tr.kafka.NewClient(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{tr.topic: start}),
		kgo.FetchMaxWait(50*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer client.Close()

	committed := make(chan struct{})
	go func() {
		defer close(committed)
		tr.commitLoop(ctx, adm, feeds)
	}()
	for ctx.Err() == nil {
		if tr.backlogged(feeds) {
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fetches.EachError(func(topic string, p int32, err error) {
			slog.Warn("broker reader: fetch", "topic", topic, "partition", p, "err", err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			for _, f := range feeds {
				f.add(r)
			}
		})
		for _, f := range feeds {
			f.signal()
		}
	}
	<-committed
	return nil
}

// waitForTopic returns startOffsets once the topic exists: a consumer group waits for its topic
// too, and the stack (or a test) may create it after the dispatchers start.
func (tr *topicReader) waitForTopic(ctx context.Context, adm *kadm.Client, feeds []*triggerFeed) (map[int32]kgo.Offset, error) {
	for attempt := 0; ; attempt++ {
		start, err := tr.startOffsets(ctx, adm, feeds)
		if err == nil {
			return start, nil
		}
		if attempt%40 == 0 { // every 10 s
			slog.Warn("broker reader: waiting for the topic", "topic", tr.topic, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// startOffsets is where the fetch starts on each partition: the lowest offset any Trigger's group
// has committed there, or the start of the partition when one has none. Each feed skips what its
// own group already committed.
func (tr *topicReader) startOffsets(ctx context.Context, adm *kadm.Client, feeds []*triggerFeed) (map[int32]kgo.Offset, error) {
	ends, err := adm.ListEndOffsets(ctx, tr.topic)
	if err != nil {
		return nil, fmt.Errorf("broker topic %s: %w", tr.topic, err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("broker topic %s: %w", tr.topic, err)
	}
	lowest := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { lowest[o.Partition] = o.Offset })
	fromStart := map[int32]bool{}
	for _, f := range feeds {
		got, err := adm.FetchOffsets(ctx, f.group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			got, err = nil, nil // a new group: nothing committed yet (kfake says so; Kafka returns none)
		}
		if err != nil {
			return nil, fmt.Errorf("consumer group %s: %w", f.group, err)
		}
		f.skipBelow = map[int32]int64{}
		for p := range lowest {
			o, ok := got.Lookup(tr.topic, p)
			if !ok || o.Err != nil || o.At < 0 {
				fromStart[p] = true
				continue
			}
			f.skipBelow[p] = o.At
			lowest[p] = min(lowest[p], o.At)
		}
	}
	start := map[int32]kgo.Offset{}
	for p, at := range lowest {
		if fromStart[p] {
			start[p] = kgo.NewOffset().AtStart()
		} else {
			start[p] = kgo.NewOffset().At(at)
		}
	}
	return start, nil
}

// backlogged reports whether a Trigger has fallen backlogLimit records behind.
func (tr *topicReader) backlogged(feeds []*triggerFeed) bool {
	for _, f := range feeds {
		if f.backlog() >= backlogLimit {
			return true
		}
	}
	return false
}

// commitLoop commits each feed's finished offsets every commitInterval; once ctx ends, it waits
// for the dispatchers to stop and commits a last time.
func (tr *topicReader) commitLoop(ctx context.Context, adm *kadm.Client, feeds []*triggerFeed) {
	tick := time.NewTicker(commitInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			tr.commit(ctx, adm, feeds)
		case <-ctx.Done():
			tr.open.Wait()
			// Bounded: with Kafka gone, stopping must not wait out the client's retries.
			final, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			tr.commit(final, adm, feeds)
			cancel()
			return
		}
	}
}

func (tr *topicReader) commit(ctx context.Context, adm *kadm.Client, feeds []*triggerFeed) {
	for _, f := range feeds {
		marks := f.takeMarks()
		if len(marks) == 0 {
			continue
		}
		offsets := kadm.Offsets{}
		for p, eo := range marks {
			offsets.Add(kadm.Offset{Topic: tr.topic, Partition: p, At: eo.Offset, LeaderEpoch: eo.Epoch})
		}
		resp, err := adm.CommitOffsets(ctx, f.group, offsets)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			f.restoreMarks(marks) // committed with the next round
			if ctx.Err() == nil {
				slog.Warn("broker reader: commit", "group", f.group, "err", err)
			}
		}
	}
}

// triggerFeed is one Trigger's view of the shared fetch: the records for it, in offset order per
// partition, and the offsets it has finished, committed for its group by the reader.
type triggerFeed struct {
	group     string
	keep      func(*kgo.Record) bool
	skipBelow map[int32]int64 // the group's committed offsets at start; set before any record
	progress  *commitTracker
	reader    *topicReader

	mu      sync.Mutex
	queue   []*kgo.Record
	ready   chan struct{}             // signalled when queue gets records
	marks   map[int32]kgo.EpochOffset // to commit with the next round
	highest map[int32]int64           // the furthest mark made per partition
	closed  bool
}

// add queues r for the Trigger, or marks it done at once when the Trigger cannot take it.
// Records already committed by the group are skipped.
func (f *triggerFeed) add(r *kgo.Record) {
	if r.Offset < f.skipBelow[r.Partition] {
		return
	}
	f.progress.fetched(r)
	if f.keep != nil && !f.keep(r) {
		f.finished(r)
		return
	}
	f.mu.Lock()
	f.queue = append(f.queue, r)
	f.mu.Unlock()
}

func (f *triggerFeed) signal() {
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

func (f *triggerFeed) backlog() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queue)
}

// take returns up to max queued records, waiting for at least one until ctx ends. admit, when
// set, is asked for each record in turn whether to take it: records it refuses stay queued, in
// order (an ordered Trigger's partition that already has enough waiting).
func (f *triggerFeed) take(ctx context.Context, max int, admit func(partition int32) bool) []*kgo.Record {
	for {
		f.mu.Lock()
		var out []*kgo.Record
		if admit == nil {
			if n := min(max, len(f.queue)); n > 0 {
				out = f.queue[:n:n]
				f.queue = f.queue[n:]
			}
		} else if len(f.queue) > 0 {
			kept := f.queue[:0:0]
			for _, r := range f.queue {
				if len(out) < max && admit(r.Partition) {
					out = append(out, r)
				} else {
					kept = append(kept, r)
				}
			}
			f.queue = kept
		}
		if len(f.queue) == 0 {
			f.queue = nil // let the backing array go
		}
		f.mu.Unlock()
		if len(out) > 0 {
			return out
		}
		select {
		case <-f.ready:
		case <-ctx.Done():
			return nil
		}
	}
}

// finished records r as done (delivered, dead-lettered, or not for this Trigger); the offset
// after the first undone record of its partition is committed with the next round.
func (f *triggerFeed) finished(r *kgo.Record) {
	next, ok := f.progress.finished(r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Two deliveries finishing at once may hand their marks over in either order: only a mark
	// beyond every earlier one counts, so a commit never goes back.
	if next.Offset > f.highest[r.Partition] {
		f.highest[r.Partition] = next.Offset
		f.marks[r.Partition] = next
	}
}

func (f *triggerFeed) takeMarks() map[int32]kgo.EpochOffset {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.marks) == 0 {
		return nil
	}
	marks := f.marks
	f.marks = map[int32]kgo.EpochOffset{}
	return marks
}

// restoreMarks puts back marks whose commit failed, unless a later mark replaced them.
func (f *triggerFeed) restoreMarks(marks map[int32]kgo.EpochOffset) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, eo := range marks {
		if cur, ok := f.marks[p]; !ok || cur.Offset < eo.Offset {
			f.marks[p] = eo
		}
	}
}

// close says the Trigger's dispatcher has stopped: nothing more will be finished, so the
// reader's last commit can go ahead.
func (f *triggerFeed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		f.reader.open.Done()
	}
}
