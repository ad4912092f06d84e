package eventlog

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ordersaga/ordersaga/internal/events"
)

// ErrNoEvents: the topic holds no event of the order.
var ErrNoEvents = errors.New("no events of the order")

// Step is one event of a trace.
type Step struct {
	Time      time.Time       `json:"time"`
	ElapsedMS float64         `json:"elapsed_ms"`
	HopMS     *float64        `json:"hop_ms,omitempty"`
	After     string          `json:"after,omitempty"`
	Type      string          `json:"type"`
	Source    string          `json:"source"`
	ID        string          `json:"id"`
	Data      json.RawMessage `json:"data,omitempty"`
	// DataError says why Data is missing: the event's data is not JSON. Such an event is shown
	// (it is on the topic, and a function will refuse it), not allowed to spoil the whole trace.
	DataError string `json:"data_error,omitempty"`
	// Elapsed is the time since the trace's first event; Hop the time since the event this one
	// answers (After), 0 when there is none.
	Elapsed time.Duration `json:"-"`
	Hop     time.Duration `json:"-"`
}

// Trace is one order's saga as a timeline.
type Trace struct {
	OrderID string `json:"order_id"`
	Topic   string `json:"topic"`
	// TraceID is the W3C trace id the order's events carry (their traceparent), when they do.
	TraceID string  `json:"trace_id,omitempty"`
	TotalMS float64 `json:"total_ms"`
	// UserID is the order's owner, as its events name it.
	UserID string `json:"-"`
	Events []Step `json:"events"`
}

// ReadTrace reads the topic from since (the zero time: its beginning) to its current end and
// returns order's events as a timeline: each once (a redelivery, the same source and id, is
// dropped), in time order, with its hop latency after the event that caused it
// (events.Causes). It returns an error wrapping ErrNoEvents when the topic holds none of them.
// A since shortly before the order was placed spares reading the whole topic.
func ReadTrace(ctx context.Context, r *Reader, order string, since time.Time) (*Trace, error) {
	from := int64(Earliest)
	if !since.IsZero() {
		from = since.UnixMilli()
	}
	start, err := r.Offsets(ctx, from)
	if err != nil {
		return nil, err
	}
	end, err := r.Offsets(ctx, Latest)
	if err != nil {
		return nil, err
	}
	if err := r.Seek(start); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	tr := &Trace{OrderID: order, Topic: r.topic}
	err = r.Each(ctx, end, func(e Entry) bool {
		if e.NotEvent || e.Order() != order {
			return true
		}
		key := e.Event.Source() + "\x00" + e.Event.ID()
		if seen[key] {
			return true // a redelivery
		}
		seen[key] = true
		tr.Events = append(tr.Events, newStep(e))
		tr.TraceID = cmp.Or(tr.TraceID, e.TraceID())
		tr.UserID = cmp.Or(tr.UserID, e.UserID())
		return true
	})
	if err != nil {
		return nil, err
	}
	if len(tr.Events) == 0 {
		return nil, fmt.Errorf("order %s on %s: %w", order, r.topic, ErrNoEvents)
	}
	tr.link()
	return tr, nil
}

// link sorts the steps and works out elapsed and hop times. Events of one instant keep the
// saga's order of types.
func (tr *Trace) link() {
	steps := tr.Events
	rank := func(t string) int { return slices.Index(events.All, events.Type(t)) }
	slices.SortStableFunc(steps, func(x, y Step) int {
		if c := x.Time.Compare(y.Time); c != 0 {
			return c
		}
		return rank(x.Type) - rank(y.Type)
	})
	first := steps[0].Time
	at := map[string]time.Time{}
	for i := range steps {
		s := &steps[i]
		s.Elapsed = s.Time.Sub(first)
		s.ElapsedMS = millis(s.Elapsed)
		if !s.Time.IsZero() {
			for _, c := range events.Causes[events.Type(s.Type)] {
				if t, ok := at[string(c)]; ok {
					s.After, s.Hop = string(c), s.Time.Sub(t)
					hop := millis(s.Hop)
					s.HopMS = &hop
					break
				}
			}
		}
		if _, ok := at[s.Type]; !ok {
			at[s.Type] = s.Time
		}
	}
	tr.TotalMS = millis(steps[len(steps)-1].Time.Sub(first))
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// newStep is the step of one event, its data kept as JSON when it is JSON.
func newStep(e Entry) Step {
	s := Step{Time: e.Time, Type: e.Event.Type(), Source: e.Event.Source(), ID: e.Event.ID()}
	switch data := e.Event.Data(); {
	case len(data) == 0:
	case json.Valid(data):
		s.Data = json.RawMessage(data)
	default:
		s.DataError = fmt.Sprintf("data is not JSON (%d bytes, %s)", len(data), cmp.Or(e.Event.DataContentType(), "no content type"))
	}
	return s
}
