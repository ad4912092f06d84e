package loadtest

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/kafka"
)

// Ending is when and how an order's saga ended, as seen on the broker topic.
type Ending struct {
	Type events.Type
	At   time.Time
}

// Watcher reads the broker topic with no consumer group (it commits nothing and disturbs no
// Trigger) and timestamps the first ORDER_COMPLETED or ORDER_CANCELLED of each order. It is much
// cheaper than polling the REST API, and it sees the moment the saga's last step is published.
type Watcher struct {
	client *kgo.Client

	mu      sync.Mutex
	ended   map[string]Ending
	waiters map[string][]chan Ending
	seen    map[events.Type]int
}

// Watch starts watching topic from now on, reaching Kafka as cfg says (it needs to read topic).
func Watch(ctx context.Context, cfg kafka.Config, topic string) (*Watcher, error) {
	client, err := cfg.NewClient(
		kgo.ConsumeTopics(topic),
		// Everything produced from a second ago on: no record of a run can be missed while the
		// client looks up where the topic ends.
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(time.Now().Add(-time.Second).UnixMilli())),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	w := &Watcher{client: client, ended: map[string]Ending{}, waiters: map[string][]chan Ending{}, seen: map[events.Type]int{}}
	go w.run(ctx)
	return w, nil
}

func (w *Watcher) run(ctx context.Context) {
	for {
		fetches := w.client.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		now := time.Now()
		fetches.EachRecord(func(r *kgo.Record) {
			var typ events.Type
			var order string
			for _, h := range r.Headers {
				switch h.Key {
				case "ce_type":
					typ = events.Type(h.Value)
				case "ce_subject":
					order = string(h.Value)
				}
			}
			w.count(typ)
			if (typ == events.OrderCompleted || typ == events.OrderCancelled) && order != "" {
				w.end(order, Ending{Type: typ, At: now})
			}
		})
	}
}

func (w *Watcher) count(typ events.Type) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen[typ]++
}

// Seen returns how many records of each type the watcher has read so far.
func (w *Watcher) Seen() map[events.Type]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.seen)
}

func (w *Watcher) end(order string, e Ending) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.ended[order]; ok {
		return // a redelivery or republished duplicate: the first one counts
	}
	w.ended[order] = e
	for _, c := range w.waiters[order] {
		c <- e
	}
	delete(w.waiters, order)
}

// Ended returns how order ended, if it has.
func (w *Watcher) Ended(order string) (Ending, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.ended[order]
	return e, ok
}

// Wait blocks until order ends or ctx does.
func (w *Watcher) Wait(ctx context.Context, order string) (Ending, error) {
	w.mu.Lock()
	if e, ok := w.ended[order]; ok {
		w.mu.Unlock()
		return e, nil
	}
	c := make(chan Ending, 1)
	w.waiters[order] = append(w.waiters[order], c)
	w.mu.Unlock()
	select {
	case e := <-c:
		return e, nil
	case <-ctx.Done():
		return Ending{}, errors.Join(errors.New("order "+order+" did not end"), ctx.Err())
	}
}

// Close stops watching.
func (w *Watcher) Close() { w.client.Close() }
