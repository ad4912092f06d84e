package telemetry

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The CloudEvents distributed tracing extension: W3C trace context as event attributes, so the
// trace travels with the event through Kafka and the broker, whatever carries it.
const (
	TraceParentExtension = "traceparent"
	TraceStateExtension  = "tracestate"
)

// eventCarrier reads and writes an event's trace context extensions for the W3C propagator.
type eventCarrier struct{ e *cloudevents.Event }

func (c eventCarrier) Get(key string) string {
	if v, ok := c.e.Extensions()[key]; ok {
		if s, ok := v.(string); ok {
			return s
		}
	}
	return ""
}

func (c eventCarrier) Set(key, value string) { c.e.SetExtension(key, value) }

func (c eventCarrier) Keys() []string { return []string{TraceParentExtension, TraceStateExtension} }

// ContextWithEventParent returns ctx with e's traceparent as its remote parent span, or ctx as
// it is when e carries none (or one that does not parse).
func ContextWithEventParent(ctx context.Context, e cloudevents.Event) context.Context {
	return propagator.Extract(ctx, eventCarrier{&e})
}

// SetTraceParent makes e continue the trace of ctx's span: its traceparent (and tracestate)
// extensions name that span. Without a span in ctx, e is left as it is.
func SetTraceParent(ctx context.Context, e *cloudevents.Event) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		propagator.Inject(ctx, eventCarrier{e})
	}
}

// EventHop is the handling of one event by one function: its span and its metrics.
type EventHop struct {
	span      trace.Span
	eventType string
	key       string // the event's identity, source and id
	started   time.Time
}

// StartEvent starts the span of handling e, a consumer span whose parent is the span that sent
// e (its traceparent extension; the request's W3C traceparent header when e has none), and
// returns ctx carrying it for the handler. End it with End.
func StartEvent(ctx context.Context, e cloudevents.Event, header http.Header) (context.Context, *EventHop) {
	parent := ContextWithEventParent(ctx, e)
	if !trace.SpanContextFromContext(parent).IsValid() {
		parent = propagator.Extract(ctx, propagation.HeaderCarrier(header))
	}
	hop := &EventHop{eventType: typeLabel(e.Type()), key: e.Source() + "\x00" + e.ID(), started: time.Now()}
	attrs := []attribute.KeyValue{
		attribute.String("cloudevents.event_id", e.ID()),
		attribute.String("cloudevents.event_source", e.Source()),
		attribute.String("cloudevents.event_type", e.Type()),
		attribute.String("cloudevents.event_subject", e.Subject()),
	}
	if recentFailures.contains(hop.key) {
		count(retriesSeen, "type", hop.eventType)
		attrs = append(attrs, attribute.Bool("ordersaga.retry", true))
	}
	ctx, hop.span = tracer().Start(parent, e.Type()+" process",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
	return ctx, hop
}

// End records how the event endpoint answered: status (the retry contract's), err, and the
// reply, which it makes continue this hop's trace. It ends the span and counts the event.
func (h *EventHop) End(reply *cloudevents.Event, status int, err error) {
	outcome := outcomeOf(status)
	count(eventsHandled, "type", h.eventType, "outcome", outcome)
	observe(eventDuration, time.Since(h.started).Seconds(), "type", h.eventType, "outcome", outcome)
	if status >= 500 {
		recentFailures.add(h.key) // the broker will try it again
	} else {
		recentFailures.remove(h.key)
	}
	h.span.SetAttributes(attribute.Int("http.response.status_code", status), attribute.String("ordersaga.outcome", outcome))
	if err != nil {
		h.span.RecordError(err)
	}
	if status >= 400 {
		h.span.SetStatus(codes.Error, strconv.Itoa(status)+" "+http.StatusText(status))
	}
	if reply != nil {
		SetTraceParent(trace.ContextWithSpan(context.Background(), h.span), reply)
		h.span.SetAttributes(attribute.String("ordersaga.reply.type", reply.Type()), attribute.String("ordersaga.reply.id", reply.ID()))
	}
	h.span.End()
}

// DuplicateCaught records that the inbox recognised an event of eventType as handled before (a
// redelivery): it is counted, and marked on the span handling it, found in ctx.
func DuplicateCaught(ctx context.Context, eventType string) {
	count(inboxDuplicates, "type", typeLabel(eventType))
	trace.SpanFromContext(ctx).SetAttributes(attribute.Bool("ordersaga.inbox.duplicate", true))
}

// recentFailures remembers the events this instance failed lately, so that their next delivery
// is recognised as a retry: Knative's dispatcher says nothing in the request about attempts.
var recentFailures = newKeySet(4096)

// keySet is a bounded set of strings: past its capacity, the oldest entries are forgotten.
type keySet struct {
	mu    sync.Mutex
	slot  map[string]int // each key's place in order
	order []string       // a ring of the keys added, oldest first from next
	next  int
}

func newKeySet(capacity int) *keySet {
	return &keySet{slot: make(map[string]int, capacity), order: make([]string, capacity)}
}

func (s *keySet) add(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.slot[key]; ok {
		return
	}
	if old := s.order[s.next]; old != "" && s.slot[old] == s.next {
		delete(s.slot, old)
	}
	s.order[s.next] = key
	s.slot[key] = s.next
	s.next = (s.next + 1) % len(s.order)
}

// remove forgets key; its place in the ring is reused when its turn comes.
func (s *keySet) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.slot, key)
}

func (s *keySet) contains(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.slot[key]
	return ok
}
