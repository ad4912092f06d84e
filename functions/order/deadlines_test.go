package order

import (
	"context"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
)

// pass runs one deadline pass and returns how many orders it drove on.
func (fx *fixture) pass(tb testing.TB) int {
	tb.Helper()
	n, err := fx.fn.Deadlines(context.Background())
	if err != nil {
		tb.Fatalf("Deadlines: %v", err)
	}
	return n
}

// ofType returns the published events of type t, in publication order.
func ofType(es []cloudevents.Event, t events.Type) []cloudevents.Event {
	var out []cloudevents.Event
	for _, e := range es {
		if e.Type() == string(t) {
			out = append(out, e)
		}
	}
	return out
}

// sameEvent reports whether every event in es is want, byte for byte: a republication, not a
// new event.
func sameEvent(es []cloudevents.Event, want cloudevents.Event) bool {
	for _, e := range es {
		if e.ID() != want.ID() || e.Source() != want.Source() || string(e.Data()) != string(want.Data()) {
			return false
		}
	}
	return true
}

func TestOverdueRequestedOrderRepublishesOrderRequested(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)
	if o.DeadlineAt == nil || o.DeadlineAt.Sub(o.CreatedAt) != time.Minute {
		t.Fatalf("new order due %v, want created_at + 1m", o.DeadlineAt)
	}
	fx.clock.advance(59 * time.Second)
	if n := fx.pass(t); n != 0 {
		t.Fatalf("pass before the deadline drove %d orders", n)
	}
	fx.clock.advance(2 * time.Second)
	if n := fx.pass(t); n != 1 {
		t.Fatalf("pass after the deadline drove %d orders, want 1", n)
	}
	requested := ofType(fx.published(t), events.OrderRequested)
	if len(requested) != 2 || !sameEvent(requested, requested[0]) {
		t.Fatalf("ORDER_REQUESTED published %d times, want twice with one id and the same data", len(requested))
	}
	got := fx.order(t, o.ID)
	if got.Status != Requested || got.DeadlineAttempts != 1 || got.DeadlineAt.Sub(fx.clock.now()) < 110*time.Second {
		t.Errorf("after the republication: %s, attempts %d, due %v; want REQUESTED, 1, about 2m on", got.Status, got.DeadlineAttempts, got.DeadlineAt)
	}
	if n := fx.pass(t); n != 0 {
		t.Errorf("a second pass at once drove %d orders", n)
	}
}

// placeApprovedOrder places an order and pays for it; it returns the order's ORDER_ACCEPTED.
func (fx *fixture) placeApprovedOrder(tb testing.TB) (*Order, cloudevents.Event) {
	tb.Helper()
	o := fx.placeOrder(tb)
	accepted := fx.deliver(tb, paid(tb, o.ID))
	if accepted == nil {
		tb.Fatal("no ORDER_ACCEPTED")
	}
	return o, *accepted
}

func TestOverdueApprovedOrderRepublishesOrderAccepted(t *testing.T) {
	fx := newFixture(t)
	_, accepted := fx.placeApprovedOrder(t)
	fx.clock.advance(61 * time.Second)
	if n := fx.pass(t); n != 1 {
		t.Fatalf("pass drove %d orders, want 1", n)
	}
	again := ofType(fx.published(t), events.OrderAccepted)
	if len(again) != 1 || !sameEvent(again, accepted) {
		t.Errorf("republished %d ORDER_ACCEPTED, want the reply itself, same id and data", len(again))
	}
	if got := ofType(fx.published(t), events.OrderRequested); len(got) != 1 {
		t.Errorf("ORDER_REQUESTED published %d times: an approved order moves on with ORDER_ACCEPTED", len(got))
	}
}

func TestRequestedOrderPastTheFinalDeadlineAsksPaymentToCancel(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)
	fx.deliver(t, reserved(t, o.ID))
	fx.clock.advance(10*time.Minute + time.Second)
	if n := fx.pass(t); n != 1 {
		t.Fatalf("pass drove %d orders, want 1", n)
	}
	requests := ofType(fx.published(t), events.OrderCancelRequested)
	if len(requests) != 1 {
		t.Fatalf("%d ORDER_CANCEL_REQUESTED published, want 1", len(requests))
	}
	request := eventstest.Decode[events.OrderCancelRequestedV1](t, &requests[0])
	if request != (events.OrderCancelRequestedV1{OrderID: o.ID, Reason: events.ReasonTimeout, TotalCents: 2500}) {
		t.Errorf("request = %+v", request)
	}
	got := fx.order(t, o.ID)
	if got.Status != Requested || got.CancelRequestedReason != events.ReasonTimeout {
		t.Fatalf("after the final deadline: %s, requested %q; want still REQUESTED (payment decides), timeout", got.Status, got.CancelRequestedReason)
	}

	// Payment has not answered a minute later: the same request goes again.
	fx.clock.advance(61 * time.Second)
	if n := fx.pass(t); n != 1 {
		t.Fatalf("pass drove %d orders, want 1", n)
	}
	if again := ofType(fx.published(t), events.OrderCancelRequested); len(again) != 2 || !sameEvent(again, requests[0]) {
		t.Errorf("cancel request published %d times, want it twice with one id", len(again))
	}

	void := eventstest.New(t, events.SourcePayment, events.TransactionFailedV1{OrderID: o.ID, TransactionID: "tx-void", AmountCents: 2500, Reason: events.ReasonCancelled})
	cancelled := eventstest.Decode[events.OrderCancelledV1](t, fx.deliver(t, void))
	if cancelled.Reason != events.ReasonTimeout || len(cancelled.Items) != 2 {
		t.Errorf("ORDER_CANCELLED = %+v, want reason timeout with the stored lines", cancelled)
	}
	if got := fx.order(t, o.ID); got.Status != Cancelled || got.CancelReason != events.ReasonTimeout || got.DeadlineAt != nil {
		t.Errorf("after the void: %s, reason %q, due %v; want CANCELLED, timeout, no deadline", got.Status, got.CancelReason, got.DeadlineAt)
	}
	fx.clock.advance(time.Hour)
	if n := fx.pass(t); n != 0 {
		t.Errorf("pass drove %d cancelled orders", n)
	}
}

func TestApprovedOrderPastTheFinalDeadlineIsDrivenOnNeverCancelled(t *testing.T) {
	fx := newFixture(t)
	o, accepted := fx.placeApprovedOrder(t)
	for range 8 { // 40 minutes: far past the final deadline
		fx.clock.advance(5 * time.Minute)
		if n := fx.pass(t); n != 1 {
			t.Fatalf("pass drove %d orders, want the approved one", n)
		}
	}
	published := fx.published(t)
	if n := len(ofType(published, events.OrderCancelRequested)); n != 0 {
		t.Errorf("%d cancel requests for a paid order", n)
	}
	if again := ofType(published, events.OrderAccepted); len(again) != 8 || !sameEvent(again, accepted) {
		t.Errorf("ORDER_ACCEPTED republished %d times, want 8, all the same event", len(again))
	}
	if got := fx.order(t, o.ID); got.Status != Approved || got.CancelRequestedReason != "" || got.DeadlineAttempts != 8 {
		t.Errorf("order = %s, requested %q, attempts %d; want APPROVED, none, 8", got.Status, got.CancelRequestedReason, got.DeadlineAttempts)
	}
}

func TestFinishedOrdersHaveNoDeadline(t *testing.T) {
	fx := newFixture(t)
	declinedOrder := fx.placeOrder(t)
	fx.deliver(t, declined(t, declinedOrder.ID))
	completedOrder := fx.placeOrder(t)
	fx.deliver(t, paid(t, completedOrder.ID))
	fx.deliver(t, shipped(t, completedOrder.ID))
	for _, id := range []string{declinedOrder.ID, completedOrder.ID} {
		if got := fx.order(t, id); !got.Status.Finished() || got.DeadlineAt != nil {
			t.Errorf("order %s: %s due %v, want finished without a deadline", id, got.Status, got.DeadlineAt)
		}
	}
	before := len(fx.published(t))
	fx.clock.advance(time.Hour)
	if n := fx.pass(t); n != 0 {
		t.Errorf("pass drove %d finished orders", n)
	}
	if after := len(fx.published(t)); after != before {
		t.Errorf("%d events published for finished orders", after-before)
	}
}

func TestDeadlinePassSkipsALockedOrder(t *testing.T) {
	fx := newFixture(t)
	locked, free := fx.placeOrder(t), fx.placeOrder(t)
	fx.clock.advance(61 * time.Second)

	ctx := context.Background()
	tx, err := fx.fn.Pool.Begin(ctx) // another pass, or an event's handler, holds this order
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM orders WHERE id = $1 FOR UPDATE`, locked.ID); err != nil {
		t.Fatal(err)
	}
	if n := fx.pass(t); n != 1 {
		t.Errorf("pass beside a locked order drove %d, want only the free one", n)
	}
	if got := fx.order(t, locked.ID); got.DeadlineAttempts != 0 {
		t.Errorf("the locked order was driven on (attempts %d)", got.DeadlineAttempts)
	}
	if got := fx.order(t, free.ID); got.DeadlineAttempts != 1 {
		t.Errorf("the free order has attempts %d, want 1", got.DeadlineAttempts)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := fx.pass(t); n != 1 {
		t.Errorf("pass after the lock was released drove %d, want the formerly locked one", n)
	}
}

func TestConcurrentDeadlinePassesDriveEachOrderOnce(t *testing.T) {
	fx := newFixture(t)
	const orders, passes = 12, 4
	ids := make([]string, orders)
	for i := range ids {
		ids[i] = fx.placeOrder(t).ID
	}
	fx.clock.advance(61 * time.Second)
	var wg sync.WaitGroup
	counts := make([]int, passes)
	errs := make([]error, passes)
	for i := range passes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = fx.fn.Deadlines(context.Background())
		}()
	}
	wg.Wait()
	total := 0
	for i := range passes {
		if errs[i] != nil {
			t.Fatalf("pass %d: %v", i, errs[i])
		}
		total += counts[i]
	}
	if total != orders {
		t.Errorf("passes drove %d orders in all (%v), want each of the %d once", total, counts, orders)
	}
	for _, id := range ids {
		if got := fx.order(t, id); got.DeadlineAttempts != 1 {
			t.Errorf("order %s driven on %d times, want once", id, got.DeadlineAttempts)
		}
	}
	if n := len(ofType(fx.published(t), events.OrderRequested)); n != 2*orders {
		t.Errorf("ORDER_REQUESTED published %d times, want %d (create, then one republication each)", n, 2*orders)
	}
}

func TestUndecodableNextEventDoesNotHoldBackOtherOrders(t *testing.T) {
	fx := newFixture(t)
	poisoned, healthy := fx.placeOrder(t), fx.placeOrder(t)
	if _, err := fx.fn.Pool.Exec(context.Background(), `UPDATE orders SET next_event = 'not json' WHERE id = $1`, poisoned.ID); err != nil {
		t.Fatal(err)
	}
	fx.clock.advance(61 * time.Second)
	if n := fx.pass(t); n != 1 {
		t.Errorf("pass drove %d orders, want only the healthy one", n)
	}
	if got := fx.order(t, healthy.ID); got.DeadlineAttempts != 1 {
		t.Errorf("healthy order attempts %d, want 1", got.DeadlineAttempts)
	}
	if got := fx.order(t, poisoned.ID); got.DeadlineAt != nil || got.Status != Requested {
		t.Errorf("poisoned order: %s due %v; want REQUESTED with its deadline dropped", got.Status, got.DeadlineAt)
	}
}
