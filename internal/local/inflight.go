package local

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// commitTracker keeps, per partition, the offsets fetched but not yet done, so that the offset
// a dispatcher commits is always the first one not done: events finish out of order (one waits
// out its back-off while later ones go through), but nothing is committed past an event that was
// neither delivered nor dead-lettered.
type commitTracker struct {
	mu    sync.Mutex
	parts map[partitionID]*partitionProgress
}

type partitionID struct {
	topic     string
	partition int32
}

type partitionProgress struct {
	pending []int64        // fetched and not yet committable, in offset order
	done    map[int64]bool // finished, waiting for the ones before them
	epoch   int32
}

func newCommitTracker() *commitTracker {
	return &commitTracker{parts: map[partitionID]*partitionProgress{}}
}

// fetched records r as in flight. Records of a partition arrive in offset order.
func (c *commitTracker) fetched(r *kgo.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := partitionID{r.Topic, r.Partition}
	p := c.parts[id]
	if p == nil {
		p = &partitionProgress{done: map[int64]bool{}}
		c.parts[id] = p
	}
	p.pending = append(p.pending, r.Offset)
	p.epoch = r.LeaderEpoch
}

// finished records r as done and returns the offset now committable on its partition (the
// next one to consume), or ok false when the partition's first pending record is still running.
func (c *commitTracker) finished(r *kgo.Record) (next kgo.EpochOffset, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[partitionID{r.Topic, r.Partition}]
	if p == nil {
		return kgo.EpochOffset{}, false
	}
	p.done[r.Offset] = true
	advanced := false
	var last int64
	for len(p.pending) > 0 && p.done[p.pending[0]] {
		last = p.pending[0]
		delete(p.done, last)
		p.pending = p.pending[1:]
		advanced = true
	}
	if !advanced {
		return kgo.EpochOffset{}, false
	}
	return kgo.EpochOffset{Epoch: p.epoch, Offset: last + 1}, true
}

// lanes runs work in order per key and in parallel across keys, each key in a goroutine of its
// own only while it has work: the Kafka broker's ordered delivery, with the partition as key.
// A key never waits for another key.
type lanes struct {
	mu     sync.Mutex
	queues map[string][]func()
}

func newLanes() *lanes { return &lanes{queues: map[string][]func(){}} }

// run queues work behind key's earlier work.
func (l *lanes) run(key string, work func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q, busy := l.queues[key]
	l.queues[key] = append(q, work)
	if !busy {
		go l.drain(key)
	}
}

// waiting is how many of key's works wait behind the one running.
func (l *lanes) waiting(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queues[key])
}

func (l *lanes) drain(key string) {
	for {
		l.mu.Lock()
		q := l.queues[key]
		if len(q) == 0 {
			delete(l.queues, key)
			l.mu.Unlock()
			return
		}
		work := q[0]
		l.queues[key] = q[1:]
		l.mu.Unlock()
		work()
	}
}
