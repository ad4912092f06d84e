// Package telemetry is what the functions tell about themselves. Traces: a span per event
// handled (events.go) and per REST request (http.go), joined across hops through the CloudEvents
// traceparent extension, so that one order is one trace; exported over OTLP/HTTP in JSON
// (otlpjson.go) when the standard OTEL_* variables name a collector, and not at all otherwise.
// Metrics: Prometheus counters and histograms (metrics.go), served on GET /metrics.
//
// It uses the OpenTelemetry SDK for spans, but not its OTLP exporters: those bring gRPC and
// protobuf, about 8 MB, into every function binary (docs/OBSERVABILITY.md).
package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// scopeName names this package as the source of its spans.
const scopeName = "github.com/ordersaga/ordersaga/internal/telemetry"

// tracer is looked up on every use, so that whatever provider is installed (StartTracing, or a
// test's in-memory one) is the one used.
func tracer() trace.Tracer { return otel.Tracer(scopeName) }

// propagator reads and writes W3C trace context: the traceparent and tracestate HTTP headers,
// and the CloudEvents extensions of the same names (the distributed tracing extension).
var propagator = propagation.TraceContext{}

// ExportConfig is where spans go, from the standard OTLP exporter variables.
type ExportConfig struct {
	// Endpoint is the full URL spans are POSTed to (.../v1/traces).
	Endpoint string
	Headers  map[string]string
	Timeout  time.Duration
	Gzip     bool
}

// ExportConfigFromEnv reads the OTEL_* variables through getenv (os.Getenv outside tests). It
// returns ok false when spans are not to be exported: OTEL_SDK_DISABLED=true,
// OTEL_TRACES_EXPORTER=none, or no endpoint. Errors: a protocol other than http/json (this
// exporter speaks no protobuf and no gRPC), another exporter, or a malformed value.
func ExportConfigFromEnv(getenv func(string) string) (cfg ExportConfig, ok bool, err error) {
	// perSignal is OTEL_EXPORTER_OTLP_TRACES_<name>, or else OTEL_EXPORTER_OTLP_<name>.
	perSignal := func(name string) (string, string) {
		if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_" + name)); v != "" {
			return v, "OTEL_EXPORTER_OTLP_TRACES_" + name
		}
		return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_" + name)), "OTEL_EXPORTER_OTLP_" + name
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return cfg, false, nil
	}
	switch exporter := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exporter {
	case "", "otlp":
	case "none":
		return cfg, false, nil
	default:
		return cfg, false, fmt.Errorf("OTEL_TRACES_EXPORTER=%s is not supported: use otlp (with OTEL_EXPORTER_OTLP_PROTOCOL=http/json) or none", exporter)
	}
	if protocol, name := perSignal("PROTOCOL"); protocol != "" && protocol != "http/json" {
		return cfg, false, fmt.Errorf("%s=%s is not supported: the functions export OTLP over HTTP in JSON only; set it to http/json (collectors take it on their OTLP/HTTP port, 4318)", name, protocol)
	}
	if endpoint := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); endpoint != "" {
		cfg.Endpoint = endpoint // the signal's own endpoint is used as it is
	} else if base := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); base != "" {
		cfg.Endpoint = strings.TrimSuffix(base, "/") + "/v1/traces"
	} else {
		return cfg, false, nil
	}
	if u, err := url.Parse(cfg.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, false, fmt.Errorf("OTLP traces endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	headers, name := perSignal("HEADERS")
	if cfg.Headers, err = parseHeaders(headers); err != nil {
		return cfg, false, fmt.Errorf("%s: %w", name, err)
	}
	cfg.Timeout = 10 * time.Second
	if timeout, name := perSignal("TIMEOUT"); timeout != "" {
		ms, err := strconv.Atoi(timeout)
		if err != nil || ms <= 0 {
			return cfg, false, fmt.Errorf("%s=%q: want a positive number of milliseconds", name, timeout)
		}
		cfg.Timeout = time.Duration(ms) * time.Millisecond
	}
	switch compression, name := perSignal("COMPRESSION"); compression {
	case "", "none":
	case "gzip":
		cfg.Gzip = true
	default:
		return cfg, false, fmt.Errorf("%s=%s: want gzip or none", name, compression)
	}
	return cfg, true, nil
}

// parseHeaders reads OTEL_EXPORTER_OTLP_HEADERS: comma-separated key=value pairs, values
// URL-encoded (the OpenTelemetry specification's format).
func parseHeaders(s string) (map[string]string, error) {
	headers := map[string]string{}
	for pair := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		key, value, ok := strings.Cut(pair, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, fmt.Errorf("%q is not key=value", pair)
		}
		v, err := url.PathUnescape(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", key, err)
		}
		headers[key] = v
	}
	return headers, nil
}

// StartTracing installs the process's tracer provider when the environment asks for export
// (ExportConfigFromEnv): spans of service (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win)
// are batched and POSTed to the collector; the sampler is the SDK's, from OTEL_TRACES_SAMPLER
// (parent-based, always on by default). Otherwise nothing is exported, but spans still get ids
// and trace context is passed on from each request and event to the events it causes, so an
// order's events share one trace id (unless OTEL_SDK_DISABLED=true). The returned function
// flushes and stops it.
func StartTracing(service string) (shutdown func(context.Context) error, err error) {
	cfg, ok, err := ExportConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	if !ok {
		if !strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
			// Nothing is exported, but every span still gets an id and passes it on: each event
			// carries its order's traceparent, so the console and `ordersctl events trace` show
			// one trace id per order, and a collector added later sees whole traces.
			otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample())))
		}
		return func(context.Context) error { return nil }, nil
	}
	res, err := resource.Merge(resource.NewSchemaless(
		attribute.String("service.name", service),
		attribute.String("service.namespace", "ordersaga"),
	), resource.Environment())
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(NewOTLPJSONExporter(cfg)),
		sdktrace.WithResource(res),
	)
	otel.SetTracerProvider(provider)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		slog.Warn("telemetry", "err", err)
	}))
	slog.Info("exporting traces", "endpoint", cfg.Endpoint)
	return provider.Shutdown, nil
}
