package local

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/telemetry/telemetrytest"
)

// checkTraces checks, from the spans the function processes exported, that each of orders (all
// ended) is one trace: the span of the handling of its last event belongs to a trace whose root
// is the order function's POST /orders span, every other span of it has its parent in it, and a
// completed order's trace went through order, inventory, payment and shipping.
func checkTraces(t *testing.T, collector *telemetrytest.Collector, orders []client.Order) {
	t.Helper()
	terminal := map[string]string{client.StatusCompleted: "ORDER_COMPLETED process", client.StatusCancelled: "ORDER_CANCELLED process"}
	var spans []telemetrytest.Span
	traceOf := map[string]string{} // order id → trace id, from the spans of its events
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		spans = collector.Spans()
		clear(traceOf)
		ended := 0
		for _, sp := range spans {
			if id := sp.Attributes["cloudevents.event_subject"]; id != "" {
				if tr, ok := traceOf[id]; ok && tr != sp.TraceID {
					t.Fatalf("order %s: span %q in trace %s, another of its spans in %s", id, sp.Name, sp.TraceID, tr)
				}
				traceOf[id] = sp.TraceID
			}
		}
		for _, o := range orders {
			for _, sp := range spans {
				if sp.Name == terminal[o.Status] && sp.Attributes["cloudevents.event_subject"] == o.ID {
					ended++
					break
				}
			}
		}
		// Each process exports on its own schedule, so a span can arrive before its parent from
		// another function: wait for the parents too (checked, and reported, below).
		if ended == len(orders) && parentsArrived(spans, traceOf) {
			break
		}
		if time.Now().After(deadline) {
			if ended < len(orders) {
				t.Fatalf("after a minute, the spans of %d of %d orders' last events have been exported", ended, len(orders))
			}
			break
		}
	}
	byTrace := map[string][]telemetrytest.Span{}
	for _, sp := range spans {
		byTrace[sp.TraceID] = append(byTrace[sp.TraceID], sp)
	}
	for _, o := range orders {
		trace := byTrace[traceOf[o.ID]]
		ids := map[string]bool{}
		services := map[string]bool{}
		for _, sp := range trace {
			ids[sp.SpanID] = true
			services[sp.Service] = true
		}
		roots := 0
		for _, sp := range trace {
			switch {
			case sp.ParentSpanID == "":
				roots++
				if sp.Name != "POST /orders" || sp.Service != "order" || sp.Kind != 2 {
					t.Errorf("order %s: its trace's root is %q of %s (kind %d), want the order function's POST /orders", o.ID, sp.Name, sp.Service, sp.Kind)
				}
			case !ids[sp.ParentSpanID]:
				t.Errorf("order %s: span %q of %s has a parent outside the trace", o.ID, sp.Name, sp.Service)
			}
		}
		if roots != 1 {
			t.Errorf("order %s: %d roots in its trace, want 1", o.ID, roots)
		}
		if o.Status == client.StatusCompleted {
			for _, fn := range []string{"order", "inventory", "payment", "shipping"} {
				if !services[fn] {
					t.Errorf("completed order %s: no span of %s in its trace (%v)", o.ID, fn, services)
				}
			}
		}
	}
}

// parentsArrived reports whether every span of the orders' traces (traceOf's values) has its
// parent among spans, or none.
func parentsArrived(spans []telemetrytest.Span, traceOf map[string]string) bool {
	traces := map[string]bool{}
	for _, tr := range traceOf {
		traces[tr] = true
	}
	ids := make(map[string]bool, len(spans))
	for _, sp := range spans {
		ids[sp.SpanID] = true
	}
	for _, sp := range spans {
		if traces[sp.TraceID] && sp.ParentSpanID != "" && !ids[sp.ParentSpanID] {
			return false
		}
	}
	return true
}

// checkStackMetrics scrapes the stack's /metrics after at least orders orders: every function's
// metrics, labelled by function, and the data plane's deliveries; and the gateway has none.
func checkStackMetrics(t *testing.T, s *Stack, orders int) {
	t.Helper()
	got := telemetrytest.Scrape(t, s.MetricsURL+"/metrics")
	for _, c := range []struct {
		family string
		labels map[string]string
	}{
		{"ordersaga_events_handled_total", map[string]string{"function": "inventory", "type": "ORDER_REQUESTED", "outcome": "ok"}},
		{"ordersaga_event_handler_duration_seconds", map[string]string{"function": "inventory", "type": "ORDER_REQUESTED"}},
		{"ordersaga_http_requests_total", map[string]string{"function": "order", "method": "POST", "route": "/orders", "code": "202"}},
		{"ordersaga_outbox_lag_seconds", map[string]string{"function": "order"}},
		{"ordersaga_local_deliveries_total", map[string]string{"subscriber": "inventory", "outcome": "delivered"}},
		{"ordersaga_local_delivery_duration_seconds", nil},
	} {
		if n := telemetrytest.Sum(got, c.family, c.labels); n < float64(orders) {
			t.Errorf("%s%v = %v, want at least %d after %d orders", c.family, c.labels, n, orders, orders)
		}
	}
	var functions []string
	for _, m := range got["go_goroutines"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "function" {
				functions = append(functions, l.GetValue())
			}
		}
	}
	slices.Sort(functions)
	if want := []string{"deadletter", "inventory", "order", "payment", "shipping", "user"}; !slices.Equal(functions, want) {
		t.Errorf("go_goroutines of %v, want every function's: %v", functions, want)
	}
	resp, err := http.Get(s.GatewayURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics through the gateway: %s, want 404", resp.Status)
	}
}
