package local

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// progress tracks, per partition, the offsets handed to lanes and not finished yet. Lanes finish
// out of order (one order's retry does not hold up the others), so the offset that may be
// committed is the lowest one still in flight, or one past the last handed out when none is:
// committing never skips an event that has not been delivered or dead-lettered.
type progress struct {
	mu    sync.Mutex
	topic string
	parts map[int32]*partitionProgress
}

type partitionProgress struct {
	pending map[int64]struct{}
	next    int64 // one past the highest offset handed out
	epoch   int32
	marked  int64 // the commit point last returned by commitPoints
}

func newProgress(topic string) *progress {
	return &progress{topic: topic, parts: map[int32]*partitionProgress{}}
}

// start records that r was handed to a lane.
func (p *progress) start(r *kgo.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pp, ok := p.parts[r.Partition]
	if !ok {
		pp = &partitionProgress{pending: map[int64]struct{}{}, marked: -1}
		p.parts[r.Partition] = pp
	}
	pp.pending[r.Offset] = struct{}{}
	pp.next, pp.epoch = max(pp.next, r.Offset+1), r.LeaderEpoch
}

// done records that r is delivered, dead-lettered or skipped.
func (p *progress) done(r *kgo.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.parts[r.Partition].pending, r.Offset)
}

// commitPoints returns the partitions whose commit point moved since the last call, with it.
func (p *progress) commitPoints() map[string]map[int32]kgo.EpochOffset {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out map[string]map[int32]kgo.EpochOffset
	for partition, pp := range p.parts {
		point := pp.next
		for offset := range pp.pending {
			point = min(point, offset)
		}
		if point == pp.marked {
			continue
		}
		pp.marked = point
		if out == nil {
			out = map[string]map[int32]kgo.EpochOffset{p.topic: {}}
		}
		out[p.topic][partition] = kgo.EpochOffset{Epoch: pp.epoch, Offset: point}
	}
	return out
}
