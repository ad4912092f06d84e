package telemetry

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga/internal/telemetry/telemetrytest"
)

func TestExportConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		ok       bool
		endpoint string
		err      string
	}{
		{name: "unset: off", env: nil},
		{name: "base endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, ok: true, endpoint: "http://collector:4318/v1/traces"},
		{name: "traces endpoint as it is", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/otlp/traces"}, ok: true, endpoint: "https://b/otlp/traces"},
		{name: "http/json", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, ok: true, endpoint: "http://c:4318/v1/traces"},
		{name: "disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}},
		{name: "exporter none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}},
		{name: "grpc refused", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, err: "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported"},
		{name: "protobuf refused per signal", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, err: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf is not supported"},
		{name: "another exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: "OTEL_TRACES_EXPORTER=zipkin is not supported"},
		{name: "not a URL", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, err: "is not an http(s) URL"},
		{name: "bad timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, err: "OTEL_EXPORTER_OTLP_TIMEOUT"},
		{name: "bad header", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, err: "OTEL_EXPORTER_OTLP_HEADERS"},
		{name: "bad compression", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, err: "want gzip or none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, ok, err := ExportConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || ok != tc.ok || cfg.Endpoint != tc.endpoint {
				t.Fatalf("got %+v, %v, %v; want endpoint %q, ok %v", cfg, ok, err, tc.endpoint, tc.ok)
			}
		})
	}
	cfg, _, err := ExportConfigFromEnv(func(k string) string {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
			"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc, x-tenant = blue", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
			"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "1500"}[k]
	})
	if err != nil || cfg.Headers["authorization"] != "Bearer abc" || cfg.Headers["x-tenant"] != "blue" || !cfg.Gzip || cfg.Timeout.Milliseconds() != 1500 {
		t.Fatalf("headers, compression and timeout: %+v, %v", cfg, err)
	}
}

// collector is an OTLP/HTTP receiver that keeps the requests it gets.
type collector struct {
	*httptest.Server
	mu       sync.Mutex
	requests []otlpCapture
	status   int
}

type otlpCapture struct {
	header http.Header
	body   map[string]any
}

func newCollector(t *testing.T) *collector {
	c := &collector{status: http.StatusOK}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Error(err)
				return
			}
			body = zr
		}
		var decoded map[string]any
		if err := json.NewDecoder(body).Decode(&decoded); err != nil {
			t.Errorf("collector: body is not JSON: %v", err)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.requests = append(c.requests, otlpCapture{header: r.Header.Clone(), body: decoded})
		w.WriteHeader(c.status)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *collector) spans(t *testing.T) []map[string]any {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, req := range c.requests {
		for _, rs := range req.body["resourceSpans"].([]any) {
			for _, ss := range rs.(map[string]any)["scopeSpans"].([]any) {
				for _, sp := range ss.(map[string]any)["spans"].([]any) {
					out = append(out, sp.(map[string]any))
				}
			}
		}
	}
	return out
}

// The exporter speaks OTLP/HTTP JSON: hex ids, the parent's id, OTLP's numbers for kinds and
// status codes, 64-bit integers as strings; with the configured headers, gzipped when asked.
func TestOTLPJSONExporterEncodesSpans(t *testing.T) {
	c := newCollector(t)
	exporter := NewOTLPJSONExporter(ExportConfig{Endpoint: c.URL + "/v1/traces", Headers: map[string]string{"X-Tenant": "blue"}, Gzip: true})
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer provider.Shutdown(context.Background())
	ctx, parent := provider.Tracer("test").Start(context.Background(), "parent", trace.WithSpanKind(trace.SpanKindServer))
	_, child := provider.Tracer("test").Start(ctx, "child", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.Int("count", 42), attribute.StringSlice("skus", []string{"A", "B"}), attribute.Bool("retry", true)))
	child.SetStatus(codes.Error, "500")
	child.End()
	parent.End()

	spans := c.spans(t)
	if len(spans) != 2 {
		t.Fatalf("collector got %d spans, want 2", len(spans))
	}
	got, wantParent := spans[0], parent.SpanContext()
	if got["name"] != "child" || got["traceId"] != wantParent.TraceID().String() || got["parentSpanId"] != wantParent.SpanID().String() ||
		got["spanId"] != child.SpanContext().SpanID().String() {
		t.Errorf("child span %v: want trace %s, parent %s", got, wantParent.TraceID(), wantParent.SpanID())
	}
	if got["kind"] != float64(5) || got["status"].(map[string]any)["code"] != float64(2) {
		t.Errorf("child: kind %v, status %v; want 5 (consumer) and code 2 (error)", got["kind"], got["status"])
	}
	if _, err := json.Marshal(got["startTimeUnixNano"]); err != nil || got["startTimeUnixNano"] == "" {
		t.Errorf("startTimeUnixNano %v", got["startTimeUnixNano"])
	}
	if _, isString := got["startTimeUnixNano"].(string); !isString {
		t.Errorf("startTimeUnixNano %T, want a decimal string", got["startTimeUnixNano"])
	}
	attrs := map[string]any{}
	for _, kv := range got["attributes"].([]any) {
		kv := kv.(map[string]any)
		attrs[kv["key"].(string)] = kv["value"]
	}
	if v := attrs["count"].(map[string]any)["intValue"]; v != "42" {
		t.Errorf("count %v, want the string \"42\"", v)
	}
	if v := attrs["retry"].(map[string]any)["boolValue"]; v != true {
		t.Errorf("retry %v", v)
	}
	if v := attrs["skus"].(map[string]any)["arrayValue"].(map[string]any)["values"].([]any); len(v) != 2 || v[1].(map[string]any)["stringValue"] != "B" {
		t.Errorf("skus %v", v)
	}
	if spans[1]["kind"] != float64(2) || spans[1]["parentSpanId"] != nil {
		t.Errorf("parent span %v: want kind 2 (server) and no parent", spans[1])
	}
	if h := c.requests[0].header; h.Get("X-Tenant") != "blue" || h.Get("Content-Type") != "application/json" {
		t.Errorf("request headers %v", h)
	}
}

func TestOTLPJSONExporterReportsARefusal(t *testing.T) {
	c := newCollector(t)
	c.status = http.StatusServiceUnavailable
	exporter := NewOTLPJSONExporter(ExportConfig{Endpoint: c.URL + "/v1/traces"})
	stub := tracetest.SpanStub{Name: "x"}
	err := exporter.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{stub.Snapshot()})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("error %v, want the collector's 503", err)
	}
}

// StartTracing exports to the collector the environment names, with OTEL_SERVICE_NAME winning
// over the function's own name.
func TestStartTracingExportsToTheConfiguredCollector(t *testing.T) {
	c := newCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.URL)
	t.Setenv("OTEL_SERVICE_NAME", "payment-canary")
	previous := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(previous) })
	shutdown, err := StartTracing("payment")
	if err != nil {
		t.Fatal(err)
	}
	_, span := tracer().Start(context.Background(), "hello")
	span.End()
	if err := shutdown(context.Background()); err != nil { // flushes the batch
		t.Fatal(err)
	}
	if spans := c.spans(t); len(spans) != 1 || spans[0]["name"] != "hello" {
		t.Fatalf("collector got %v", spans)
	}
	res := c.requests[0].body["resourceSpans"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	var service string
	for _, kv := range res["attributes"].([]any) {
		if kv := kv.(map[string]any); kv["key"] == "service.name" {
			service = kv["value"].(map[string]any)["stringValue"].(string)
		}
	}
	if service != "payment-canary" {
		t.Errorf("service.name %q, want OTEL_SERVICE_NAME's", service)
	}

	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	if _, err := StartTracing("payment"); err == nil {
		t.Error("StartTracing took OTEL_EXPORTER_OTLP_PROTOCOL=grpc")
	}
}

func newEvent(t testing.TB, id string) cloudevents.Event {
	t.Helper()
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetSource("ordersaga/inventory")
	e.SetType("INVENTORY_RESERVED")
	e.SetSubject("order-1")
	return e
}

// A hop's span continues the event's traceparent (or, without one, the request's header), and
// the reply carries the hop's own span on.
func TestEventHopContinuesTheEventsTrace(t *testing.T) {
	spans := telemetrytest.RecordSpans(t)
	const sender = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	e := newEvent(t, "e1")
	e.SetExtension(TraceParentExtension, sender)
	header := http.Header{"Traceparent": {"00-11111111111111111111111111111111-2222222222222222-01"}}
	_, hop := StartEvent(context.Background(), e, header)
	reply := newEvent(t, "r1")
	reply.SetExtension(TraceParentExtension, sender) // events.Reply copies the cause's
	hop.End(&reply, http.StatusOK, nil)

	got := spans.GetSpans()
	if len(got) != 1 {
		t.Fatalf("%d spans", len(got))
	}
	sp := got[0]
	if sp.Name != "INVENTORY_RESERVED process" || sp.Parent.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		sp.Parent.SpanID().String() != "00f067aa0ba902b7" || !sp.Parent.IsRemote() {
		t.Fatalf("span %q with parent %v: want the event's traceparent as remote parent", sp.Name, sp.Parent)
	}
	want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + sp.SpanContext.SpanID().String() + "-01"
	if tp := reply.Extensions()[TraceParentExtension]; tp != want {
		t.Errorf("reply traceparent %v, want the hop's span %s", tp, want)
	}

	// No traceparent on the event: the request's header is the parent.
	spans.Reset()
	_, hop = StartEvent(context.Background(), newEvent(t, "e2"), header)
	hop.End(nil, http.StatusAccepted, nil)
	if p := spans.GetSpans()[0].Parent; p.TraceID().String() != "11111111111111111111111111111111" {
		t.Errorf("parent %v, want the traceparent header's", p)
	}
}

// Metrics of a hop: handled by type and outcome; a delivery after a 5xx counts as a retry seen;
// a type outside the saga is "other".
func TestEventHopMetrics(t *testing.T) {
	telemetrytest.RecordSpans(t)
	handled := func(outcome string) float64 {
		return counted(eventsHandled, "type", "INVENTORY_RESERVED", "outcome", outcome)
	}
	retries := func() float64 { return counted(retriesSeen, "type", "INVENTORY_RESERVED") }
	ok0, failed0, retries0 := handled(OutcomeOK), handled(OutcomeFailed), retries()

	e := newEvent(t, "metrics-1")
	_, hop := StartEvent(context.Background(), e, nil)
	hop.End(nil, http.StatusInternalServerError, errors.New("database down"))
	_, hop = StartEvent(context.Background(), e, nil) // the broker's retry
	hop.End(nil, http.StatusOK, nil)
	_, hop = StartEvent(context.Background(), e, nil) // a redelivery after success: not a retry
	hop.End(nil, http.StatusOK, nil)

	if got := handled(OutcomeFailed) - failed0; got != 1 {
		t.Errorf("failed moved by %v, want 1", got)
	}
	if got := handled(OutcomeOK) - ok0; got != 2 {
		t.Errorf("ok moved by %v, want 2", got)
	}
	if got := retries() - retries0; got != 1 {
		t.Errorf("retries seen moved by %v, want 1", got)
	}
	if typeLabel("com.example.spam") != "other" || typeLabel("ORDER_CANCEL_REQUESTED") != "ORDER_CANCEL_REQUESTED" || typeLabel(pingType) != pingType {
		t.Error("typeLabel")
	}
}

func TestKeySetForgetsTheOldest(t *testing.T) {
	s := newKeySet(2)
	s.add("a")
	s.add("b")
	s.remove("a")
	s.add("a") // back, in a new place
	s.add("c") // evicts the oldest place, which held "a" before: "a" must stay
	if !s.contains("a") || !s.contains("c") || s.contains("b") {
		t.Errorf("a %v, b %v, c %v; want a and c", s.contains("a"), s.contains("b"), s.contains("c"))
	}
}

// REST requests get a server span named by their route pattern, with the client's traceparent
// as parent, and are counted by route; probes, /metrics and the event endpoint are left alone.
func TestHTTPSpansAndMetricsByRoute(t *testing.T) {
	spans := telemetrytest.RecordSpans(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanContextFromContext(r.Context()).IsValid() {
			t.Error("the handler's context carries no span")
		}
		w.WriteHeader(http.StatusNotFound)
	})
	mux.HandleFunc("GET /health/readiness", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /{$}", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(HTTP(mux))
	defer srv.Close()
	count := func() float64 {
		return counted(httpRequests, "method", "GET", "route", "/orders/{id}", "code", "404")
	}
	before := count()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/orders/42", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	for _, r := range []*http.Request{req, mustRequest(t, "GET", srv.URL+"/health/readiness"), mustRequest(t, "POST", srv.URL+"/")} {
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got := spans.GetSpans()
	if len(got) != 1 {
		t.Fatalf("%d spans, want 1 (the REST request only)", len(got))
	}
	if got[0].Name != "GET /orders/{id}" || got[0].Parent.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("span %q, parent %v", got[0].Name, got[0].Parent)
	}
	if n := count() - before; n != 1 {
		t.Errorf("GET /orders/{id} 404 counted %v times, want 1", n)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// counted is the current value of a counter series of family.
func counted(family string, labels ...string) float64 {
	return float64(registry.GetOrCreateCounter(series(family, labels...)).Get())
}

func TestSeriesEscapesLabelValues(t *testing.T) {
	got := series("x_total", "route", `/a"b\c`+"\n", "code", "200")
	if want := `x_total{route="/a\"b\\c\n",code="200"}`; got != want {
		t.Errorf("series %s, want %s", got, want)
	}
}

// A route that takes any method (the gateway's proxy routes) counts invented methods as
// "other": a client cannot grow the metrics, and so the memory, by inventing methods.
func TestHTTPCountsInventedMethodsAsOther(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/anymethod/", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(HTTP(mux))
	defer srv.Close()
	before := counted(httpRequests, "method", "other", "route", "/anymethod/", "code", "200")
	for _, m := range []string{"X1", "X2", "X3"} {
		resp, err := http.DefaultClient.Do(mustRequest(t, m, srv.URL+"/anymethod/x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := counted(httpRequests, "method", "other", "route", "/anymethod/", "code", "200") - before; n != 3 {
		t.Errorf("invented methods counted %v times as other, want 3", n)
	}
	for _, name := range registry.ListMetricNames() {
		if strings.Contains(name, `method="X`) {
			t.Errorf("a series for an invented method: %s", name)
		}
	}
}

// With nothing to export, each hop still has a trace id and passes it on: an event with no
// traceparent starts a trace, and its reply continues it (the console and ordersctl show it).
func TestTraceContextPassesOnWithoutExport(t *testing.T) {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER"} {
		t.Setenv(k, "")
	}
	previous := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(previous) })
	if _, err := StartTracing("payment"); err != nil {
		t.Fatal(err)
	}
	ctx, hop := StartEvent(context.Background(), newEvent(t, "no-parent"), http.Header{})
	reply := newEvent(t, "reply")
	SetTraceParent(ctx, &reply)
	hop.End(&reply, http.StatusOK, nil)
	tp, _ := reply.Extensions()[TraceParentExtension].(string)
	if len(tp) != 55 || !strings.HasPrefix(tp, "00-") || strings.HasPrefix(tp, "00-00000000000000000000000000000000") {
		t.Fatalf("reply traceparent %q, want a trace id passed on", tp)
	}
}
