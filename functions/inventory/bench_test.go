package inventory

import (
	"context"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/events"
)

// benchFixture stocks two items deep enough for any b.N; the benchmarks use two-line orders.
func benchFixture(b *testing.B) *fixture {
	f := newFixture(b)
	f.stock(b, "BENCH-A", 100, 0)
	f.stock(b, "BENCH-B", 250, 0)
	if _, err := f.fn.Pool.Exec(context.Background(), `UPDATE items SET available = 1000000000000`); err != nil {
		b.Fatal(err)
	}
	return f
}

func benchLines() []events.Line { return []events.Line{line("BENCH-A", 1), line("BENCH-B", 2)} }

// BenchmarkReserve is ORDER_REQUESTED handling, one transaction per event with its inbox row.
func BenchmarkReserve(b *testing.B) {
	f := benchFixture(b)
	es := make([]cloudevents.Event, b.N)
	for i := range es {
		es[i] = requested(b, newOrderID(), benchLines()...)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range es {
		reply, err := f.fn.Handle(ctx, es[i])
		if err != nil || reply == nil || reply.Type() != string(events.InventoryReserved) {
			b.Fatalf("reply %v, err %v", reply, err)
		}
	}
}

// BenchmarkRelease is ORDER_CANCELLED handling of a reserved order.
func BenchmarkRelease(b *testing.B) {
	f := benchFixture(b)
	ctx := context.Background()
	es := make([]cloudevents.Event, b.N)
	for i := range es {
		order := newOrderID()
		f.handle(b, requested(b, order, benchLines()...))
		es[i] = cancelled(b, order, benchLines()...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range es {
		if _, err := f.fn.Handle(ctx, es[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if it := f.item(b, "BENCH-A"); it.Reserved != 0 {
		b.Fatalf("%d still reserved", it.Reserved)
	}
}
