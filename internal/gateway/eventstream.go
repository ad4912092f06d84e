package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/eventlog"
	"github.com/ordersaga/ordersaga/internal/httpapi"
	"github.com/ordersaga/ordersaga/internal/kafka"
)

// EventSource is where the console reads the saga's events: the broker's topic, reached as a
// principal that may read it (the local stack's console principal; on a cluster the
// ordersaga-console KafkaUser). It reads with no consumer group, so it takes nothing from the
// functions.
type EventSource struct {
	Kafka kafka.Config
	Topic string
}

// Console stream sizes.
const (
	// backfill is how far back a stream starts, so that the console's charts and flow show the
	// last minutes at once rather than from the moment the page opened.
	backfill = 10 * time.Minute
	// recentEvents bounds the events kept for a new subscriber's backfill.
	recentEvents = 5000
	// knownOrders bounds the order → owner map a user's stream is filtered by.
	knownOrders = 100_000
	// subscriberBuffer is how many events a slow browser may lag behind before its stream is
	// closed (its EventSource reconnects), so one slow page never holds up the others.
	subscriberBuffer = 1024
	// reconnectOverlap is how far before the last event read a reconnecting reader starts again.
	reconnectOverlap = 30 * time.Second
)

// keepAlive is how often an idle event stream gets a comment, so proxies keep it open, and the
// caller's token is checked again. A variable so that tests can shorten it (export_test.go).
var keepAlive = 15 * time.Second

// flowEvent is one event as the console shows it (the JSON of an SSE message).
type flowEvent struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Source    string          `json:"source"`
	Order     string          `json:"order"`
	Time      time.Time       `json:"time"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	TraceID   string          `json:"trace_id,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	// owner is the order's user, as far as the stream has learnt it; a user sees an event only
	// when it is theirs.
	owner string
}

// eventHub reads the topic once for every console page open on this gateway and fans each event
// out. It runs only while someone watches: the first subscriber starts the reader; it stops
// hubLinger after the last one left, unless another came, so a page that reconnects (a
// cluster's request timeout cuts every stream) finds it still running, with what it has read.
type eventHub struct {
	src    EventSource
	linger time.Duration

	mu     sync.Mutex
	subs   map[*subscriber]bool
	idle   *time.Timer // stops the reader once no one has watched for linger
	stop   context.CancelFunc
	done   chan struct{}
	recent []flowEvent
	// readErr is why the reader last failed, nil once it reads again: pages are told, so a cut
	// off flow does not pass for a quiet one.
	readErr error
	owners  map[string]string
	learnt  []string // owners' keys, oldest first, to forget the oldest
}

type subscriber struct {
	caller auth.Principal
	ch     chan flowEvent
	// lagged is closed when the subscriber fell too far behind and was dropped.
	lagged chan struct{}
}

// hubLinger is how long the hub keeps reading after the last page closed.
const hubLinger = 2 * time.Minute

func newEventHub(src EventSource) *eventHub {
	return &eventHub{src: src, linger: hubLinger, subs: map[*subscriber]bool{}, owners: map[string]string{}}
}

// sees reports whether p may see ev: an admin every event, a user those of their own orders.
func sees(p auth.Principal, ev flowEvent) bool {
	return p.IsAdmin() || ev.owner != "" && ev.owner == p.UserID
}

// subscribe registers a subscriber and returns it with the recent events it may see.
func (h *eventHub) subscribe(p auth.Principal) (*subscriber, []flowEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &subscriber{caller: p, ch: make(chan flowEvent, subscriberBuffer), lagged: make(chan struct{})}
	h.subs[s] = true
	if h.idle != nil {
		h.idle.Stop()
		h.idle = nil
	}
	var backlog []flowEvent
	for _, ev := range h.recent {
		if sees(p, ev) {
			backlog = append(backlog, ev)
		}
	}
	if h.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		h.stop, h.done = cancel, make(chan struct{})
		go h.run(ctx, h.done)
	}
	return s, backlog
}

// unsubscribe removes s; when it was the last, the reader stops after linger unless someone
// subscribes first.
func (h *eventHub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	if len(h.subs) == 0 && h.stop != nil && h.idle == nil {
		h.idle = time.AfterFunc(h.linger, h.stopIfIdle)
	}
}

// stopIfIdle stops the reader, forgetting what it read, if still no one watches, and waits for it.
func (h *eventHub) stopIfIdle() {
	h.mu.Lock()
	var done chan struct{}
	if len(h.subs) == 0 && h.stop != nil {
		h.stop()
		done = h.done
		h.stop, h.done, h.recent, h.idle = nil, nil, nil, nil
		h.owners, h.learnt = map[string]string{}, nil
	}
	h.mu.Unlock()
	if done != nil {
		<-done
	}
}

// run reads the topic from backfill ago until ctx ends, reconnecting after a failure.
func (h *eventHub) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	wait := time.Second
	for ctx.Err() == nil {
		err := h.read(ctx)
		if ctx.Err() != nil {
			return
		}
		h.setReadErr(err)
		slog.Warn("console: reading the broker topic failed; retrying", "topic", h.src.Topic, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 15*time.Second)
	}
}

func (h *eventHub) read(ctx context.Context) error {
	r, err := eventlog.Open(ctx, h.src.Kafka, h.src.Topic)
	if err != nil {
		return err
	}
	defer r.Close()
	h.mu.Lock()
	from := time.Now().Add(-backfill)
	if n := len(h.recent); n > 0 {
		// After a reconnect, carry on where it stopped, with a margin: the partitions' records
		// are not in time order across partitions. What is read twice is dropped below.
		from = h.recent[n-1].Time.Add(-reconnectOverlap)
	}
	h.mu.Unlock()
	if err := r.SeekTime(ctx, from); err != nil {
		return err
	}
	h.setReadErr(nil)
	seen := map[string]bool{} // across a reconnect's overlap
	h.mu.Lock()
	for _, ev := range h.recent {
		seen[ev.Source+"\x00"+ev.ID] = true
	}
	h.mu.Unlock()
	return r.Each(ctx, nil, func(e eventlog.Entry) bool {
		if e.NotEvent {
			return true
		}
		key := e.Event.Source() + "\x00" + e.Event.ID()
		if seen[key] {
			return true
		}
		ev := flowEvent{ID: e.Event.ID(), Type: e.Event.Type(), Source: e.Event.Source(), Order: e.Order(),
			Time: e.Time, Partition: e.Partition, Offset: e.Offset, TraceID: e.TraceID()}
		if data := e.Event.Data(); json.Valid(data) {
			ev.Data = json.RawMessage(data)
		}
		h.publish(ctx, ev, e.UserID())
		return true
	})
}

func (h *eventHub) setReadErr(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.readErr = err
}

// state is the stream's condition as pages are told it: live, or unavailable while the topic
// cannot be read.
func (h *eventHub) state() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.readErr != nil {
		return "unavailable"
	}
	return "live"
}

// publish learns the event's owner, keeps it for later subscribers and hands it to every
// subscriber that may see it. It does nothing once ctx, the reader's, has ended.
func (h *eventHub) publish(ctx context.Context, ev flowEvent, user string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ctx.Err() != nil {
		return // stopped (under the lock): this reader's events no longer belong to the hub
	}
	if user != "" && ev.Order != "" {
		if _, ok := h.owners[ev.Order]; !ok {
			h.owners[ev.Order] = user
			h.learnt = append(h.learnt, ev.Order)
			if len(h.learnt) > knownOrders {
				delete(h.owners, h.learnt[0])
				h.learnt = h.learnt[1:]
			}
		}
	}
	ev.owner = h.owners[ev.Order]
	h.recent = append(h.recent, ev)
	if len(h.recent) > recentEvents {
		h.recent = h.recent[len(h.recent)-recentEvents:]
	}
	for s := range h.subs {
		if !sees(s.caller, ev) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			delete(h.subs, s)
			close(s.lagged)
		}
	}
}

// serveEvents is GET /console/api/events: server-sent events, one `saga` message per saga
// event the caller may see (the last minutes first), a `live` message once the backlog is
// sent (`unavailable` instead, and at a later keep-alive, while the topic cannot be read; `live`
// again once it can), and a comment every keepAlive so that proxies keep the connection open. The caller's
// token is checked again at every keep-alive (reauth): once it has expired (or its keys are gone)
// the stream ends with an `expired` message, so an open page does not outlive its sign-in.
func (h *eventHub) serveEvents(w http.ResponseWriter, r *http.Request, p auth.Principal, reauth func(*http.Request) error) {
	if h == nil {
		httpapi.WriteError(w, r, apperr.Errorf(apperr.Unavailable, "the event stream is not configured on this gateway"))
		return
	}
	rc := http.NewResponseController(w)
	// A stream lasts as long as the page: lift the server's write timeout for this response.
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	s, backlog := h.subscribe(p)
	defer h.unsubscribe(s)
	fmt.Fprint(w, "retry: 2000\n\n")
	for _, ev := range backlog {
		if writeEvent(w, ev) != nil {
			return
		}
	}
	told := h.state()
	fmt.Fprintf(w, "event: %s\ndata: {}\n\n", told)
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.lagged:
			return // the browser reconnects and starts afresh
		case ev := <-s.ch:
			if writeEvent(w, ev) != nil {
				return
			}
		case <-tick.C:
			if reauth(r) != nil {
				fmt.Fprint(w, "event: expired\ndata: {}\n\n")
				_ = rc.Flush()
				return
			}
			if now := h.state(); now != told {
				told = now
				fmt.Fprintf(w, "event: %s\ndata: {}\n\n", told)
			} else {
				fmt.Fprint(w, ": keep-alive\n\n")
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

func writeEvent(w http.ResponseWriter, ev flowEvent) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: saga\ndata: %s\n\n", b)
	return err
}
