package telemetrytest

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Span is what Collector keeps of a span it received.
type Span struct {
	Service      string // the resource's service.name
	TraceID      string
	SpanID       string
	ParentSpanID string // "" for a root
	Name         string
	Kind         int               // OTLP's numbers: 2 server, 5 consumer
	Attributes   map[string]string // string attributes only
}

// Collector is an OpenTelemetry collector's OTLP/HTTP JSON receiver, for tests: point
// OTEL_EXPORTER_OTLP_ENDPOINT at URL and read Spans.
type Collector struct {
	URL string

	mu    sync.Mutex
	spans []Span
}

// NewCollector serves a Collector until tb ends. A request that is not OTLP JSON fails tb.
func NewCollector(tb testing.TB) *Collector {
	c := &Collector{}
	srv := httptest.NewServer(http.HandlerFunc(c.receive(tb)))
	tb.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// Spans returns every span received so far.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

// otlpRequest is the part of OTLP's ExportTraceServiceRequest (JSON) that Span keeps.
type otlpRequest struct {
	ResourceSpans []struct {
		Resource struct {
			Attributes []otlpKeyValue `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Spans []struct {
				TraceID      string         `json:"traceId"`
				SpanID       string         `json:"spanId"`
				ParentSpanID string         `json:"parentSpanId"`
				Name         string         `json:"name"`
				Kind         int            `json:"kind"`
				Attributes   []otlpKeyValue `json:"attributes"`
			} `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

type otlpKeyValue struct {
	Key   string `json:"key"`
	Value struct {
		StringValue *string `json:"stringValue"`
	} `json:"value"`
}

func stringAttributes(kvs []otlpKeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		if kv.Value.StringValue != nil {
			out[kv.Key] = *kv.Value.StringValue
		}
	}
	return out
}

func (c *Collector) receive(tb testing.TB) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/json" {
			tb.Errorf("collector: %s %s (%s), want POST /v1/traces in JSON", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "want OTLP/HTTP JSON on /v1/traces", http.StatusBadRequest)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		var req otlpRequest
		if err := json.NewDecoder(body).Decode(&req); err != nil {
			tb.Errorf("collector: not OTLP JSON: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, rs := range req.ResourceSpans {
			service := stringAttributes(rs.Resource.Attributes)["service.name"]
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					c.spans = append(c.spans, Span{Service: service, TraceID: s.TraceID, SpanID: s.SpanID, ParentSpanID: s.ParentSpanID,
						Name: s.Name, Kind: s.Kind, Attributes: stringAttributes(s.Attributes)})
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}
}
