package sagatest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/telemetry/telemetrytest"
)

// httpSaga is a saga whose functions are served over HTTP by the runtime (function.NewHandler),
// the broker played by the test: each event is POSTed in binary mode, as a Trigger's dispatcher
// sends it, to every function that reacts to its type, and each reply is routed on.
type httpSaga struct {
	*saga
	urls map[string]string // function name → base URL
}

func newHTTPSaga(t *testing.T, successRate float64) *httpSaga {
	t.Helper()
	s := &httpSaga{saga: newSagaPaying(t, 1, successRate), urls: map[string]string{}}
	for name, fn := range s.fns {
		srv := httptest.NewServer(function.NewHandler(fn))
		t.Cleanup(srv.Close)
		s.urls[name] = srv.URL
	}
	return s
}

// hop is one delivery: an event and the function it went to.
type hop struct {
	event cloudevents.Event
	to    string
}

// run delivers the events the order function has published, and every reply they cause, until
// the saga is quiet; it returns the deliveries made.
func (s *httpSaga) run(t *testing.T) []hop {
	t.Helper()
	queue := s.published(t)
	var hops []hop
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		for _, fn := range events.Reactions[events.Type(e.Type())] {
			hops = append(hops, hop{event: e, to: fn})
			if reply := s.deliver(t, fn, e); reply != nil {
				queue = append(queue, *reply)
			}
		}
		if len(hops) > 100 {
			t.Fatal("the saga never quietened")
		}
	}
	return hops
}

// deliver POSTs e to fn and returns its reply event, if any. A status other than 200 or 202
// fails t.
func (s *httpSaga) deliver(t *testing.T, fn string, e cloudevents.Event) *cloudevents.Event {
	t.Helper()
	ctx := context.Background()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.urls[fn]+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted:
		return nil
	case http.StatusOK:
	default:
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s answered %s with %s: %s", fn, e.Type(), resp.Status, body)
	}
	reply, err := binding.ToEvent(ctx, cehttp.NewMessageFromHttpResponse(resp))
	if err != nil {
		t.Fatalf("%s's reply to %s: %v", fn, e.Type(), err)
	}
	return reply
}

// One order is one trace: the REST request that places it is the root, and every hop of its
// saga, through every function and over HTTP as the broker delivers, is a span of the same trace
// whose parent is the span of the hop that emitted the event, for an order that completes and
// for one that payment cancels.
func TestOneOrderIsOneTrace(t *testing.T) {
	for _, tc := range []struct {
		name        string
		successRate float64
		want        string
		hops        []string // "TYPE→function", in delivery order
	}{
		{"completed", 1, client.StatusCompleted, []string{
			"ORDER_REQUESTED→inventory", "INVENTORY_RESERVED→order", "INVENTORY_RESERVED→payment",
			"TRANSACTION_COMPLETED→order", "ORDER_ACCEPTED→shipping", "ORDER_SHIPPED→order", "ORDER_COMPLETED→inventory",
		}},
		{"cancelled", 0, client.StatusCancelled, []string{
			"ORDER_REQUESTED→inventory", "INVENTORY_RESERVED→order", "INVENTORY_RESERVED→payment",
			"TRANSACTION_FAILED→order", "ORDER_CANCELLED→inventory",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spans := telemetrytest.RecordSpans(t)
			s := newHTTPSaga(t, tc.successRate)
			ctx := context.Background()
			if _, err := s.admin.CreateItem(ctx, client.NewItem{SKU: "BOOK", Name: "Book", PriceCents: 1200, Quantity: 5}); err != nil {
				t.Fatal(err)
			}
			o, err := s.customer.PlaceOrder(ctx, []client.Line{{SKU: "BOOK", Quantity: 2}}, "")
			if err != nil {
				t.Fatal(err)
			}
			hops := s.run(t)
			var got []string
			for _, h := range hops {
				got = append(got, h.event.Type()+"→"+h.to)
			}
			if !slices.Equal(got, tc.hops) {
				t.Fatalf("hops %v, want %v", got, tc.hops)
			}
			if final, err := s.customer.Order(ctx, o.ID); err != nil || final.Status != tc.want {
				t.Fatalf("order ended %+v (%v), want %s", final, err, tc.want)
			}
			checkOneTrace(t, spans.GetSpans(), hops)
		})
	}
}

// checkOneTrace checks that the spans of the order's REST request and of its hops form one tree:
// the POST /orders span is the root of a trace, each hop has one span in it, started by the
// function from the event's traceparent, and whose parent is the span of the hop (or request)
// that emitted the event.
func checkOneTrace(t *testing.T, spans tracetest.SpanStubs, hops []hop) {
	t.Helper()
	byID := map[trace.SpanID]tracetest.SpanStub{}
	var root *tracetest.SpanStub
	for i, sp := range spans {
		byID[sp.SpanContext.SpanID()] = sp
		if sp.Name == "POST /orders" {
			if root != nil {
				t.Fatalf("two POST /orders spans")
			}
			root = &spans[i]
		}
	}
	if root == nil {
		t.Fatalf("no POST /orders span among %d", len(spans))
	}
	if root.Parent.IsValid() || root.SpanKind != trace.SpanKindServer {
		t.Errorf("POST /orders: parent %v, kind %v; want a root server span", root.Parent, root.SpanKind)
	}
	traceID := root.SpanContext.TraceID()
	seen := map[trace.SpanID]bool{} // hop spans already matched to a delivery
	for _, h := range hops {
		sent, ok := h.event.Extensions()["traceparent"].(string)
		if !ok {
			t.Fatalf("%s→%s carries no traceparent", h.event.Type(), h.to)
		}
		// The event's traceparent names the span that emitted it: the request, or a hop.
		parentID := spanIDOf(t, sent)
		emitter, ok := byID[parentID]
		if !ok {
			t.Fatalf("%s→%s: its traceparent %s names no recorded span", h.event.Type(), h.to, sent)
		}
		wantEmitters := []string{"POST /orders"}
		if causes := events.Causes[events.Type(h.event.Type())]; len(causes) > 0 {
			wantEmitters = nil
			for _, c := range causes {
				wantEmitters = append(wantEmitters, string(c)+" process")
			}
		}
		if !slices.Contains(wantEmitters, emitter.Name) || emitter.SpanContext.TraceID() != traceID {
			t.Errorf("%s→%s was emitted by span %q of trace %s, want one of %q in the order's trace %s",
				h.event.Type(), h.to, emitter.Name, emitter.SpanContext.TraceID(), wantEmitters, traceID)
		}
		// The hop's own span: a consumer span of this event, child of the emitter.
		var found bool
		for _, sp := range spans {
			if seen[sp.SpanContext.SpanID()] || sp.Name != h.event.Type()+" process" || sp.Parent.SpanID() != parentID {
				continue
			}
			seen[sp.SpanContext.SpanID()], found = true, true
			if sp.SpanContext.TraceID() != traceID || sp.SpanKind != trace.SpanKindConsumer || !sp.Parent.IsRemote() {
				t.Errorf("%s→%s: span of trace %s, kind %v, remote parent %v; want the order's trace %s, a consumer with a remote parent",
					h.event.Type(), h.to, sp.SpanContext.TraceID(), sp.SpanKind, sp.Parent.IsRemote(), traceID)
			}
			if !hasAttribute(sp, "cloudevents.event_id", h.event.ID()) {
				t.Errorf("%s→%s: span attributes %v lack the event id %s", h.event.Type(), h.to, sp.Attributes, h.event.ID())
			}
			break
		}
		if !found {
			t.Errorf("%s→%s: no span of its handling is a child of %q", h.event.Type(), h.to, emitter.Name)
		}
	}
	// And nothing else of the saga's is in another trace.
	for _, sp := range spans {
		if strings.HasSuffix(sp.Name, " process") && sp.SpanContext.TraceID() != traceID {
			t.Errorf("span %q is in trace %s, not the order's %s", sp.Name, sp.SpanContext.TraceID(), traceID)
		}
	}
}

// spanIDOf reads the parent id of a W3C traceparent (version-traceid-spanid-flags).
func spanIDOf(t *testing.T, traceparent string) trace.SpanID {
	t.Helper()
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 {
		t.Fatalf("traceparent %q is not version-traceid-spanid-flags", traceparent)
	}
	id, err := trace.SpanIDFromHex(parts[2])
	if err != nil {
		t.Fatalf("traceparent %q: %v", traceparent, err)
	}
	return id
}

func hasAttribute(sp tracetest.SpanStub, key, value string) bool {
	for _, kv := range sp.Attributes {
		if string(kv.Key) == key && kv.Value.Emit() == value {
			return true
		}
	}
	return false
}

// Every function serves its metrics on GET /metrics in Prometheus' text format, and they move
// with the saga: events handled by type and outcome with their latency, a redelivery caught by
// the inbox, REST requests by route, and the outbox's publications.
func TestFunctionsServeTheirMetrics(t *testing.T) {
	s := newHTTPSaga(t, 1)
	ctx := context.Background()
	before := telemetrytest.Scrape(t, s.urls["inventory"]+"/metrics")
	if _, err := s.admin.CreateItem(ctx, client.NewItem{SKU: "PEN", Name: "Pen", PriceCents: 150, Quantity: 9}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.customer.PlaceOrder(ctx, []client.Line{{SKU: "PEN", Quantity: 1}}, ""); err != nil {
		t.Fatal(err)
	}
	hops := s.run(t)
	// The broker delivers ORDER_REQUESTED again (at least once): the inbox answers it.
	s.deliver(t, "inventory", hops[0].event)
	// An event inventory does not take: 400, never retried.
	bogus := hops[len(hops)-1].event.Clone()
	bogus.SetType(string(events.OrderShipped))
	bogus.SetSource(events.SourceShipping)
	s.deliverStatus(t, "inventory", bogus, http.StatusBadRequest)

	after := telemetrytest.Scrape(t, s.urls["inventory"]+"/metrics")
	for _, c := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"ordersaga_events_handled_total", map[string]string{"type": "ORDER_REQUESTED", "outcome": "ok"}, 2},
		{"ordersaga_events_handled_total", map[string]string{"type": "ORDER_COMPLETED", "outcome": "ok"}, 1},
		{"ordersaga_events_handled_total", map[string]string{"type": "ORDER_SHIPPED", "outcome": "rejected"}, 1},
		{"ordersaga_event_handler_duration_seconds", map[string]string{"type": "ORDER_REQUESTED", "outcome": "ok"}, 2},
		{"ordersaga_inbox_duplicates_total", map[string]string{"type": "ORDER_REQUESTED"}, 1},
		{"ordersaga_http_requests_total", map[string]string{"method": "POST", "route": "/items", "code": "201"}, 1},
		{"ordersaga_http_request_duration_seconds", map[string]string{"method": "POST", "route": "/items"}, 1},
	} {
		if got := telemetrytest.Sum(after, c.family, c.labels) - telemetrytest.Sum(before, c.family, c.labels); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.family, c.labels, got, c.want)
		}
	}
	// The order function published ORDER_REQUESTED from its outbox right after the commit.
	if n := telemetrytest.Sum(telemetrytest.Scrape(t, s.urls["order"]+"/metrics"), "ordersaga_outbox_lag_seconds", map[string]string{"path": "after_commit"}); n < 1 {
		t.Errorf("ordersaga_outbox_lag_seconds{path=after_commit} counts %v publications, want at least 1", n)
	}
	// Go's own metrics are there too, for memory and goroutines.
	if _, ok := after["go_goroutines"]; !ok {
		t.Error("no go_goroutines")
	}
}

// deliverStatus POSTs e to fn and checks the status it answers.
func (s *httpSaga) deliverStatus(t *testing.T, fn string, e cloudevents.Event, want int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.urls[fn]+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&e), req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s answered %s with %s, want %d", fn, e.Type(), resp.Status, want)
	}
}
