package inventory

import (
	"context"
	"net/http"
	"reflect"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
	"github.com/ordersaga/ordersaga/internal/function"
)

// Seed: on ORDER_REQUESTED, when the inventory is there, reserve it and emit INVENTORY_RESERVED.
func TestOrderRequestedReservesEveryLine(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	f.stock(t, "B", 250, 3)
	order := newOrderID()
	e := requested(t, order, line("B", 1), line("A", 2))
	e.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")

	reply := f.handle(t, e)
	got := eventstest.Decode[events.InventoryReservedV1](t, reply)
	want := events.InventoryReservedV1{OrderID: order, UserID: "user-1", Items: []events.Line{line("B", 1), line("A", 2)}, TotalCents: 450}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reply %+v, want %+v", got, want)
	}
	if reply.Source() != events.SourceInventory || reply.Subject() != order || reply.Extensions()[events.PartitionKey] != order {
		t.Errorf("reply source/subject/partitionkey = %s/%s/%v", reply.Source(), reply.Subject(), reply.Extensions()[events.PartitionKey])
	}
	if reply.Extensions()["traceparent"] != e.Extensions()["traceparent"] {
		t.Errorf("traceparent not carried: %v", reply.Extensions()["traceparent"])
	}
	f.wantStock(t, "A", 3, 2, 0)
	f.wantStock(t, "B", 2, 1, 0)
	if r := f.reservation(t, order); r.Status != Reserved || r.TotalCents != 450 {
		t.Errorf("reservation %+v, want RESERVED with total 450", r)
	}
	f.wantConserved(t)
}

// Taking the last unit is allowed; one more is not.
func TestOrderRequestedExactStock(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 10, 3)
	eventstest.Decode[events.InventoryReservedV1](t, f.handle(t, requested(t, newOrderID(), line("A", 3))))
	got := eventstest.Decode[events.InventoryNotReservedV1](t, f.handle(t, requested(t, "late", line("A", 1))))
	if got.Reason != events.ReasonInsufficient || got.SKU != "A" {
		t.Errorf("reply %+v, want insufficient_stock for A", got)
	}
	f.wantStock(t, "A", 0, 3, 0)
	f.wantConserved(t)
}

// Seed: when the inventory is not found, emit INVENTORY_NOT_RESERVED; the refusal is recorded.
func TestOrderRequestedUnknownSKU(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	order := newOrderID()
	got := eventstest.Decode[events.InventoryNotReservedV1](t, f.handle(t, requested(t, order, line("A", 1), line("NOPE", 1))))
	want := events.InventoryNotReservedV1{OrderID: order, Reason: events.ReasonUnknownSKU, SKU: "NOPE"}
	if got != want {
		t.Errorf("reply %+v, want %+v", got, want)
	}
	f.wantStock(t, "A", 5, 0, 0)
	if r := f.reservation(t, order); r.Status != Rejected || r.Reason != events.ReasonUnknownSKU || r.SKU != "NOPE" {
		t.Errorf("reservation %+v, want REJECTED unknown_sku NOPE", r)
	}
}

// All or none: one line short of stock means no line is reserved.
func TestOrderRequestedMultiLineShortReservesNothing(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	f.stock(t, "B", 100, 1)
	f.stock(t, "C", 100, 5)
	order := newOrderID()
	got := eventstest.Decode[events.InventoryNotReservedV1](t, f.handle(t, requested(t, order, line("A", 2), line("B", 2), line("C", 2))))
	want := events.InventoryNotReservedV1{OrderID: order, Reason: events.ReasonInsufficient, SKU: "B"}
	if got != want {
		t.Errorf("reply %+v, want %+v", got, want)
	}
	f.wantStock(t, "A", 5, 0, 0)
	f.wantStock(t, "B", 1, 0, 0)
	f.wantStock(t, "C", 5, 0, 0)
	if r := f.reservation(t, order); r.Status != Rejected {
		t.Errorf("reservation %+v, want REJECTED", r)
	}
	f.wantConserved(t)
}

// The same event delivered twice gets the same reply (same event id) and reserves once.
func TestOrderRequestedRedelivery(t *testing.T) {
	for name, lines := range map[string][]events.Line{
		"reserved": {line("A", 2)},
		"rejected": {line("A", 99)},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.stock(t, "A", 100, 5)
			e := requested(t, newOrderID(), lines...)
			first := f.handle(t, e)
			before := f.item(t, "A")
			second := f.handle(t, e)
			sameEvent(t, first, second)
			if after := f.item(t, "A"); after != before {
				t.Errorf("redelivery changed the item: %+v, then %+v", before, after)
			}
			f.wantConserved(t)
		})
	}
}

// A second ORDER_REQUESTED for the same order under a new event id (say, the order's outbox
// published it twice) is answered from the reservation, with the same reply id, and changes
// nothing, even if its lines differ.
func TestOrderRequestedSameOrderNewEventID(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	f.stock(t, "B", 100, 5)
	order := newOrderID()
	first := f.handle(t, requested(t, order, line("B", 1), line("A", 2)))
	second := f.handle(t, requested(t, order, line("A", 1)))
	if first.ID() != second.ID() || second.Type() != string(events.InventoryReserved) {
		t.Errorf("second reply %s %s, want %s %s", second.Type(), second.ID(), first.Type(), first.ID())
	}
	got := eventstest.Decode[events.InventoryReservedV1](t, second)
	want := events.InventoryReservedV1{OrderID: order, UserID: "user-1", Items: []events.Line{line("A", 2), line("B", 1)}, TotalCents: 300}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("second reply %+v, want %+v", got, want)
	}
	f.wantStock(t, "A", 3, 2, 0)
	f.wantStock(t, "B", 4, 1, 0)

	rejected := newOrderID()
	first = f.handle(t, requested(t, rejected, line("A", 99)))
	second = f.handle(t, requested(t, rejected, line("A", 1)))
	if first.ID() != second.ID() {
		t.Errorf("rejected order: reply ids %s and %s differ", first.ID(), second.ID())
	}
	if got := eventstest.Decode[events.InventoryNotReservedV1](t, second); got.Reason != events.ReasonInsufficient {
		t.Errorf("rejected order: second reply %+v, want insufficient_stock", got)
	}
	f.wantStock(t, "A", 3, 2, 0)
	f.wantConserved(t)
}

// Concurrent duplicates, by event id and by order, reserve once and agree on the reply.
func TestOrderRequestedConcurrentDuplicates(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 100)
	order := newOrderID()
	e := requested(t, order, line("A", 1))
	replies := make([]*cloudevents.Event, 20)
	errs := make([]error, 20)
	var wg sync.WaitGroup
	for i := range replies {
		wg.Go(func() {
			d := e
			if i%2 == 1 {
				d = redelivered(e)
			}
			replies[i], errs[i] = f.fn.Handle(context.Background(), d)
		})
	}
	wg.Wait()
	for i := range replies {
		if errs[i] != nil {
			t.Fatalf("delivery %d: %v", i, errs[i])
		}
		if replies[i].ID() != replies[0].ID() || replies[i].Type() != string(events.InventoryReserved) {
			t.Errorf("delivery %d: reply %s %s, want %s %s", i, replies[i].Type(), replies[i].ID(), events.InventoryReserved, replies[0].ID())
		}
	}
	f.wantStock(t, "A", 99, 1, 0)
}

// 50 orders compete for 10 units: exactly 10 get one, 40 are refused, nothing is lost.
func TestOrderRequestedConcurrentNoOversell(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "LAST", 100, 10)
	const orders = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[events.Type]int{}
	for range orders {
		wg.Go(func() {
			reply, err := f.fn.Handle(context.Background(), requested(t, newOrderID(), line("LAST", 1)))
			if err != nil {
				t.Error(err)
				return
			}
			if reply.Type() == string(events.InventoryNotReserved) {
				if p, _ := events.Decode[events.InventoryNotReservedV1](*reply); p.Reason != events.ReasonInsufficient {
					t.Errorf("refusal reason %q", p.Reason)
				}
			}
			mu.Lock()
			counts[events.Type(reply.Type())]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts[events.InventoryReserved] != 10 || counts[events.InventoryNotReserved] != 40 {
		t.Errorf("replies %v, want 10 reserved and 40 not reserved", counts)
	}
	f.wantStock(t, "LAST", 0, 10, 0)
	f.wantConserved(t)
}

// Orders whose lines overlap in opposite orders, released and sold concurrently, never deadlock
// (PostgreSQL would abort one with an error) and conserve stock.
func TestOverlappingOrdersDoNotDeadlock(t *testing.T) {
	f := newFixture(t)
	skus := []string{"A", "B", "C", "D"}
	for _, s := range skus {
		f.stock(t, s, 10, 1000)
	}
	const workers, rounds = 8, 15
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				lines := make([]events.Line, len(skus))
				for i := range skus {
					j := i
					if (w+r)%2 == 1 {
						j = len(skus) - 1 - i // the opposite line order
					}
					lines[i] = line(skus[j], 1)
				}
				order := newOrderID()
				for _, e := range []cloudevents.Event{requested(t, order, lines...), settle(t, r, order, lines)} {
					if _, err := f.fn.Handle(context.Background(), e); err != nil {
						t.Errorf("worker %d round %d %s: %v", w, r, e.Type(), err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	f.wantConserved(t)
	for _, s := range skus {
		if it := f.item(t, s); it.Reserved != 0 {
			t.Errorf("%s: %d still reserved once the system is quiet", s, it.Reserved)
		}
	}
}

func settle(t *testing.T, round int, order string, lines []events.Line) cloudevents.Event {
	if round%2 == 0 {
		return cancelled(t, order, lines...)
	}
	return completed(t, order, lines...)
}

// Seed: on ORDER_CANCELLED, free the order's reserved inventory, exactly once, whether the event
// comes again with the same id or with another.
func TestOrderCancelledReleasesOnce(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	f.stock(t, "B", 100, 5)
	other := newOrderID()
	f.handle(t, requested(t, other, line("A", 1)))
	order := newOrderID()
	f.handle(t, requested(t, order, line("A", 2), line("B", 3)))

	e := cancelled(t, order, line("A", 2), line("B", 3))
	for i, d := range []cloudevents.Event{e, e, redelivered(e)} {
		if reply := f.handle(t, d); reply != nil {
			t.Errorf("delivery %d: reply %s, want none", i, reply.Type())
		}
		f.wantStock(t, "A", 4, 1, 0) // the other order's unit stays reserved
		f.wantStock(t, "B", 5, 0, 0)
	}
	if r := f.reservation(t, order); r.Status != Released {
		t.Errorf("reservation %s, want RELEASED", r.Status)
	}
	f.wantConserved(t)
}

// Concurrent cancellations of one order, under different ids, release it once.
func TestOrderCancelledConcurrentOnce(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	order := newOrderID()
	f.handle(t, requested(t, order, line("A", 2)))
	e := cancelled(t, order, line("A", 2))
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			d := e
			if i%2 == 1 {
				d = redelivered(e)
			}
			if _, err := f.fn.Handle(context.Background(), d); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	f.wantStock(t, "A", 5, 0, 0)
}

// The release uses what was reserved, not the lines the event claims.
func TestOrderCancelledUsesStoredLines(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	order := newOrderID()
	f.handle(t, requested(t, order, line("A", 2)))
	f.handle(t, cancelled(t, order, line("A", 5)))
	f.wantStock(t, "A", 5, 0, 0)
	f.wantConserved(t)
}

// A cancellation that overtakes its ORDER_REQUESTED leaves a tombstone: the late request is
// refused with order_cancelled and reserves nothing.
func TestOrderCancelledBeforeRequested(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	order := newOrderID()
	if reply := f.handle(t, cancelled(t, order, line("A", 2))); reply != nil {
		t.Errorf("reply %s, want none", reply.Type())
	}
	if r := f.reservation(t, order); r.Status != Cancelled {
		t.Errorf("reservation %s, want CANCELLED", r.Status)
	}
	got := eventstest.Decode[events.InventoryNotReservedV1](t, f.handle(t, requested(t, order, line("A", 2))))
	if want := (events.InventoryNotReservedV1{OrderID: order, Reason: events.ReasonOrderCancelled}); got != want {
		t.Errorf("reply %+v, want %+v", got, want)
	}
	f.handle(t, cancelled(t, order, line("A", 2))) // and a second cancellation changes nothing
	f.wantStock(t, "A", 5, 0, 0)
	if r := f.reservation(t, order); r.Status != Cancelled {
		t.Errorf("reservation %s, want CANCELLED", r.Status)
	}
}

// Cancelling a rejected or a sold order changes nothing; a request after a release is refused.
func TestOrderCancelledAfterRejectOrSale(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	rejected := newOrderID()
	f.handle(t, requested(t, rejected, line("A", 6)))
	f.handle(t, cancelled(t, rejected, line("A", 6)))
	f.wantStock(t, "A", 5, 0, 0)
	if r := f.reservation(t, rejected); r.Status != Rejected {
		t.Errorf("rejected order's reservation %s, want REJECTED", r.Status)
	}

	sold := newOrderID()
	f.handle(t, requested(t, sold, line("A", 2)))
	f.handle(t, completed(t, sold, line("A", 2)))
	f.handle(t, cancelled(t, sold, line("A", 2)))
	f.wantStock(t, "A", 3, 0, 2)

	released := newOrderID()
	f.handle(t, requested(t, released, line("A", 1)))
	f.handle(t, cancelled(t, released, line("A", 1)))
	got := eventstest.Decode[events.InventoryNotReservedV1](t, f.handle(t, requested(t, released, line("A", 1))))
	if got.Reason != events.ReasonOrderCancelled {
		t.Errorf("request after release: reason %q, want order_cancelled", got.Reason)
	}
	f.wantStock(t, "A", 3, 0, 2)
	f.wantConserved(t)
}

// ORDER_COMPLETED turns the reservation into a sale, once.
func TestOrderCompletedSells(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	f.stock(t, "B", 100, 5)
	order := newOrderID()
	f.handle(t, requested(t, order, line("A", 2), line("B", 1)))
	e := completed(t, order, line("A", 2), line("B", 1))
	for i, d := range []cloudevents.Event{e, e, redelivered(e)} {
		if reply := f.handle(t, d); reply != nil {
			t.Errorf("delivery %d: reply %s, want none", i, reply.Type())
		}
		f.wantStock(t, "A", 3, 0, 2)
		f.wantStock(t, "B", 4, 0, 1)
	}
	if r := f.reservation(t, order); r.Status != Sold {
		t.Errorf("reservation %s, want SOLD", r.Status)
	}
	// A late ORDER_REQUESTED for a sold order gets the original answer.
	reply := f.handle(t, requested(t, order, line("A", 2), line("B", 1)))
	eventstest.Decode[events.InventoryReservedV1](t, reply)
	f.wantConserved(t)
}

// Events that can never succeed are answered 400 (dead-lettered, not retried) and change nothing.
func TestEventsThatCannotSucceed(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	cancelledOrder := newOrderID()
	f.handle(t, requested(t, cancelledOrder, line("A", 1)))
	f.handle(t, cancelled(t, cancelledOrder, line("A", 1)))

	badData := requested(t, newOrderID(), line("A", 1))
	if err := badData.SetData(cloudevents.ApplicationJSON, map[string]any{"order_id": "x", "surprise": 1}); err != nil {
		t.Fatal(err)
	}
	noLines := requested(t, newOrderID(), line("A", 1))
	if err := noLines.SetData(cloudevents.ApplicationJSON, map[string]any{"order_id": "x", "user_id": "u", "items": []any{}}); err != nil {
		t.Fatal(err)
	}
	wrongType := eventstest.New(t, events.SourceOrder, events.OrderShippedV1{OrderID: "o", TrackingID: "t"})
	unknownType := requested(t, newOrderID(), line("A", 1))
	unknownType.SetType("ORDER_TELEPORTED")
	mislabelled := requested(t, newOrderID(), line("A", 1))
	mislabelled.SetType(string(events.OrderCancelled)) // data that is not an OrderCancelledV1

	for name, e := range map[string]cloudevents.Event{
		"unknown field":           badData,
		"no lines":                noLines,
		"type inventory ignores":  wrongType,
		"unknown type":            unknownType,
		"mislabelled":             mislabelled,
		"completed, unknown":      completed(t, newOrderID(), line("A", 1)),
		"completed, but released": completed(t, cancelledOrder, line("A", 1)),
	} {
		t.Run(name, func(t *testing.T) {
			reply, err := f.fn.Handle(context.Background(), e)
			if status := function.EventStatus(err); status != http.StatusBadRequest {
				t.Errorf("status %d (%v), want 400", status, err)
			}
			if reply != nil {
				t.Errorf("reply %s, want none", reply.Type())
			}
		})
	}
	f.wantStock(t, "A", 5, 0, 0)
	f.wantConserved(t)
}

// A database failure is transient: a plain error (500, retried), never a 400.
func TestDatabaseFailureIsRetried(t *testing.T) {
	f := newFixture(t)
	f.stock(t, "A", 100, 5)
	f.fn.Pool.Close()
	for _, e := range []cloudevents.Event{
		requested(t, newOrderID(), line("A", 1)),
		cancelled(t, newOrderID(), line("A", 1)),
		completed(t, newOrderID(), line("A", 1)),
	} {
		if _, err := f.fn.Handle(context.Background(), e); function.EventStatus(err) != http.StatusInternalServerError {
			t.Errorf("%s with the database gone: status %d (%v), want 500", e.Type(), function.EventStatus(err), err)
		}
	}
}

func sameEvent(t *testing.T, a, b *cloudevents.Event) {
	t.Helper()
	if a == nil || b == nil {
		t.Fatalf("replies %v and %v, want two", a, b)
	}
	if a.ID() != b.ID() || a.Type() != b.Type() || string(a.Data()) != string(b.Data()) {
		t.Errorf("replies differ:\n%s %s %s\n%s %s %s", a.Type(), a.ID(), a.Data(), b.Type(), b.ID(), b.Data())
	}
}
