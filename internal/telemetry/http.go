package telemetry

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// HTTP wraps a function's handler with a server span and metrics per REST request. The span's
// parent is the request's W3C traceparent header (the gateway's span on a cluster); its name and
// the metrics' route label are the ServeMux pattern that served it, never the raw path. Left
// out: the event endpoint (POST /, whose span StartEvent makes from the event itself), the
// probes and /metrics, which would only drown the REST requests.
func HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if untraced(r) {
			next.ServeHTTP(w, r)
			return
		}
		started := time.Now()
		parent := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer().Start(parent, r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(ctx)
		next.ServeHTTP(rec, r)

		route := r.Pattern // set by the ServeMux that served r
		if route == "" {
			route = "unmatched"
		} else if _, path, ok := strings.Cut(route, " "); ok {
			route = path // "GET /orders/{id}" → "/orders/{id}": the method is a label of its own
		}
		span.SetName(r.Method + " " + route)
		span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", rec.status))
		if rec.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.status))
		}
		method := r.Method
		if !slices.Contains(knownMethods, method) {
			method = "other" // a client's invented method must not grow the metrics (a route may take any method)
		}
		count(httpRequests, "method", method, "route", route, "code", strconv.Itoa(rec.status))
		observe(httpDuration, time.Since(started).Seconds(), "method", method, "route", route)
	})
}

// knownMethods are the methods HTTP counts under their own name; any other is "other".
var knownMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions}

// untraced reports the requests HTTP leaves alone.
func untraced(r *http.Request) bool {
	return (r.Method == http.MethodPost && r.URL.Path == "/") || r.URL.Path == "/metrics" || strings.HasPrefix(r.URL.Path, "/health/")
}

// InjectHTTP writes ctx's span into header as W3C traceparent, for an outgoing request that
// continues the trace (the gateway's proxy). Without a span in ctx, header is left as it is.
func InjectHTTP(ctx context.Context, header http.Header) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		propagator.Inject(ctx, propagation.HeaderCarrier(header))
	}
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(status int) {
	if !s.wroteHeader && status >= 200 { // 1xx (100 Continue) is not the answer
		s.status, s.wroteHeader = status, true
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

// Flush passes flushes on (streamed responses, server-sent events).
func (s *statusRecorder) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the connection's own writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
