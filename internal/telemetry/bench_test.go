package telemetry

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// What telemetry adds to each event handled: a span, its reply's traceparent and its metrics,
// with no export configured (the global no-op provider) and with spans recorded by the SDK (to
// an exporter that drops them: the batching and network of a real export are not in the figure).
func BenchmarkEventHop(b *testing.B) {
	e := newEvent(b, "bench")
	e.SetExtension(TraceParentExtension, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	run := func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, hop := StartEvent(context.Background(), e, nil)
			reply := e.Clone()
			hop.End(&reply, http.StatusOK, nil)
		}
	}
	b.Run("not exported", run)
	b.Run("recorded", func(b *testing.B) {
		provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(dropSpans{}))
		previous := otel.GetTracerProvider()
		otel.SetTracerProvider(provider)
		defer otel.SetTracerProvider(previous)
		run(b)
	})
}

// dropSpans is an exporter that keeps nothing.
type dropSpans struct{}

func (dropSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (dropSpans) Shutdown(context.Context) error                             { return nil }
