package order

import (
	"context"
	"net/http"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
	"github.com/ordersaga/ordersaga/internal/function"
)

var lines = []events.Line{{SKU: "BOOK-1", Quantity: 2}, {SKU: "PEN", Quantity: 1}}

// placeOrder creates an order through the REST API, as the saga starts in production.
func (fx *fixture) placeOrder(tb testing.TB) *Order {
	tb.Helper()
	resp := fx.do(tb, "POST", "/orders", fx.keys.Token(tb, "alice", auth.RoleUser),
		`{"items":[{"sku":"BOOK-1","quantity":2},{"sku":"PEN","quantity":1}]}`)
	if resp.StatusCode != http.StatusAccepted {
		tb.Fatalf("create order: %d", resp.StatusCode)
	}
	return decodeBody[*Order](tb, resp)
}

func (fx *fixture) order(tb testing.TB, id string) *Order {
	tb.Helper()
	o, err := fx.fn.store.Get(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

// deliver hands e to the function as the broker would and fails tb on an error.
func (fx *fixture) deliver(tb testing.TB, e cloudevents.Event) *cloudevents.Event {
	tb.Helper()
	reply, err := fx.fn.Handle(context.Background(), e)
	if err != nil {
		tb.Fatalf("%s: %v", e.Type(), err)
	}
	return reply
}

func reserved(tb testing.TB, id string) cloudevents.Event {
	return eventstest.New(tb, events.SourceInventory, events.InventoryReservedV1{OrderID: id, UserID: "alice", Items: lines, TotalCents: 2500})
}

func paid(tb testing.TB, id string) cloudevents.Event {
	return eventstest.New(tb, events.SourcePayment, events.TransactionCompletedV1{OrderID: id, TransactionID: "tx-1", AmountCents: 2500})
}

func declined(tb testing.TB, id string) cloudevents.Event {
	return eventstest.New(tb, events.SourcePayment, events.TransactionFailedV1{OrderID: id, TransactionID: "tx-1", AmountCents: 2500, Reason: events.ReasonPaymentDeclined})
}

func shipped(tb testing.TB, id string) cloudevents.Event {
	return eventstest.New(tb, events.SourceShipping, events.OrderShippedV1{OrderID: id, TrackingID: "TRK-1"})
}

func notReserved(tb testing.TB, id string) cloudevents.Event {
	return eventstest.New(tb, events.SourceInventory, events.InventoryNotReservedV1{OrderID: id, Reason: events.ReasonInsufficient, SKU: "PEN"})
}

func TestHappyPathApprovesShipsAndCompletes(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)

	if reply := fx.deliver(t, reserved(t, o.ID)); reply != nil {
		t.Errorf("INVENTORY_RESERVED replied %s, want no reply (payment reacts to it)", reply.Type())
	}
	if got := fx.order(t, o.ID); !got.InventoryReserved || got.Status != Requested || got.TotalCents != 2500 {
		t.Errorf("after INVENTORY_RESERVED: %+v, want reserved, REQUESTED, 2500", got)
	}
	accepted := eventstest.Decode[events.OrderAcceptedV1](t, fx.deliver(t, paid(t, o.ID)))
	if accepted.OrderID != o.ID || accepted.UserID != "alice" || accepted.TotalCents != 2500 || len(accepted.Items) != 2 {
		t.Errorf("ORDER_ACCEPTED = %+v", accepted)
	}
	if got := fx.order(t, o.ID); got.Status != Approved {
		t.Errorf("after TRANSACTION_COMPLETED: %s, want APPROVED", got.Status)
	}
	completed := eventstest.Decode[events.OrderCompletedV1](t, fx.deliver(t, shipped(t, o.ID)))
	if completed.OrderID != o.ID || len(completed.Items) != 2 || completed.Items[0] != lines[0] {
		t.Errorf("ORDER_COMPLETED = %+v", completed)
	}
	if got := fx.order(t, o.ID); got.Status != Completed || got.TrackingID != "TRK-1" {
		t.Errorf("after ORDER_SHIPPED: %+v, want COMPLETED with tracking id", got)
	}
}

func TestPaymentBeforeReservationReachesTheSameState(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)

	eventstest.Decode[events.OrderAcceptedV1](t, fx.deliver(t, paid(t, o.ID)))
	before := fx.order(t, o.ID)
	if reply := fx.deliver(t, reserved(t, o.ID)); reply != nil {
		t.Errorf("late INVENTORY_RESERVED replied %s", reply.Type())
	}
	after := fx.order(t, o.ID)
	if after.Status != Approved || !after.InventoryReserved || after.TotalCents != 2500 {
		t.Errorf("order = %+v, want APPROVED, reserved, 2500", after)
	}
	if !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Error("the late INVENTORY_RESERVED changed the order")
	}
}

func TestFailedPaymentCancelsWithTheStoredLines(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)
	fx.deliver(t, reserved(t, o.ID))

	cancelled := eventstest.Decode[events.OrderCancelledV1](t, fx.deliver(t, declined(t, o.ID)))
	// The original implementation sent ORDER_CANCELLED without lines here, and stock leaked.
	if cancelled.OrderID != o.ID || len(cancelled.Items) != 2 || cancelled.Items[1] != lines[1] || cancelled.Reason != events.ReasonPaymentDeclined {
		t.Errorf("ORDER_CANCELLED = %+v, want the order's lines", cancelled)
	}
	if got := fx.order(t, o.ID); got.Status != Cancelled {
		t.Errorf("status %s, want CANCELLED", got.Status)
	}
}

func TestInventoryNotReservedCancels(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)
	cancelled := eventstest.Decode[events.OrderCancelledV1](t, fx.deliver(t, notReserved(t, o.ID)))
	if cancelled.OrderID != o.ID || len(cancelled.Items) != 2 || cancelled.Reason != events.ReasonInsufficient {
		t.Errorf("ORDER_CANCELLED = %+v", cancelled)
	}
	if got := fx.order(t, o.ID); got.Status != Cancelled || got.CancelReason != events.ReasonInsufficient {
		t.Errorf("order = %+v, want CANCELLED (insufficient_stock)", got)
	}
}

func TestLateEventsChangeNothingOnAFinishedOrder(t *testing.T) {
	fx := newFixture(t)
	cancelled := fx.placeOrder(t)
	fx.deliver(t, notReserved(t, cancelled.ID))
	completed := fx.placeOrder(t)
	fx.deliver(t, paid(t, completed.ID))
	fx.deliver(t, shipped(t, completed.ID))

	for _, o := range []*Order{cancelled, completed} {
		before := fx.order(t, o.ID)
		for _, e := range []cloudevents.Event{reserved(t, o.ID), paid(t, o.ID), declined(t, o.ID), notReserved(t, o.ID), shipped(t, o.ID)} {
			if reply := fx.deliver(t, e); reply != nil {
				t.Errorf("%s on a %s order replied %s", e.Type(), before.Status, reply.Type())
			}
		}
		after := fx.order(t, o.ID)
		if after.Status != before.Status || !after.UpdatedAt.Equal(before.UpdatedAt) || after.InventoryReserved != before.InventoryReserved {
			t.Errorf("finished order changed: %+v -> %+v", before, after)
		}
	}
}

func TestRedeliveryReturnsTheSameReplyAndChangesNothing(t *testing.T) {
	fx := newFixture(t)
	for _, step := range []struct {
		name  string
		build func(testing.TB, string) cloudevents.Event
		prep  func(*fixture, string)
	}{
		{"INVENTORY_RESERVED", reserved, func(*fixture, string) {}},
		{"INVENTORY_NOT_RESERVED", notReserved, func(*fixture, string) {}},
		{"TRANSACTION_COMPLETED", paid, func(*fixture, string) {}},
		{"TRANSACTION_FAILED", declined, func(*fixture, string) {}},
		{"ORDER_SHIPPED", shipped, func(fx *fixture, id string) { fx.deliver(t, paid(t, id)) }},
	} {
		t.Run(step.name, func(t *testing.T) {
			o := fx.placeOrder(t)
			step.prep(fx, o.ID)
			e := step.build(t, o.ID)
			first := fx.deliver(t, e)
			afterFirst := fx.order(t, o.ID)
			second := fx.deliver(t, e)
			if (first == nil) != (second == nil) || first != nil && (first.ID() != second.ID() || string(first.Data()) != string(second.Data())) {
				t.Errorf("redelivery replied %v, want the first reply %v", second, first)
			}
			if afterSecond := fx.order(t, o.ID); !afterSecond.UpdatedAt.Equal(afterFirst.UpdatedAt) || afterSecond.Status != afterFirst.Status {
				t.Errorf("redelivery changed the order: %+v -> %+v", afterFirst, afterSecond)
			}
		})
	}
}

func TestConcurrentDuplicatesProduceOneReply(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)
	e := paid(t, o.ID)
	ids := make(chan string, 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, err := fx.fn.Handle(context.Background(), e)
			if err != nil {
				t.Error(err)
				return
			}
			ids <- reply.ID()
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Errorf("%d distinct replies to one event delivered 10 times, want 1", len(seen))
	}
}

func TestEventsThatCanNeverSucceedAre400(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)
	unknownField := paid(t, o.ID)
	_ = unknownField.SetData(cloudevents.ApplicationJSON, map[string]any{"order_id": o.ID, "transaction_id": "t", "amount_cents": 1, "extra": true})
	wrongTypeData := paid(t, o.ID)
	_ = wrongTypeData.SetData(cloudevents.ApplicationJSON, map[string]any{"order_id": o.ID, "transaction_id": "t", "amount_cents": "ten"})
	notJSON := paid(t, o.ID)
	_ = notJSON.SetData("text/plain", []byte("hello"))
	cases := map[string]cloudevents.Event{
		"unknown order":              paid(t, "00000000-0000-0000-0000-000000000000"),
		"order id not a uuid":        paid(t, "order-1"),
		"type for another function":  eventstest.New(t, events.SourceOrder, events.OrderRequestedV1{OrderID: o.ID, UserID: "alice", Items: lines}),
		"unknown type":               func() cloudevents.Event { e := paid(t, o.ID); e.SetType("ORDER_EXPLODED"); return e }(),
		"unknown field":              unknownField,
		"wrong field type":           wrongTypeData,
		"not JSON":                   notJSON,
		"shipped before approval":    shipped(t, o.ID),
		"missing data":               func() cloudevents.Event { e := paid(t, o.ID); e.DataEncoded = nil; return e }(),
		"subject differs from order": func() cloudevents.Event { e := paid(t, o.ID); e.SetSubject("someone-else"); return e }(),
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			reply, err := fx.fn.Handle(context.Background(), e)
			if status := function.EventStatus(err); status != http.StatusBadRequest || reply != nil {
				t.Errorf("status %d (err %v), reply %v; want 400 and no reply", status, err, reply)
			}
		})
	}
	if got := fx.order(t, o.ID); got.Status != Requested || got.InventoryReserved {
		t.Errorf("rejected events changed the order: %+v", got)
	}
	if n := fx.countRows(t, "inbox"); n != 0 {
		t.Errorf("%d rejected events recorded as handled", n)
	}
}

func TestDatabaseDownIsATransientError(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)
	fx.fn.Pool.Close()
	_, err := fx.fn.Handle(context.Background(), paid(t, o.ID))
	if status := function.EventStatus(err); status != http.StatusInternalServerError {
		t.Errorf("status %d (err %v), want 500 so the broker retries", status, err)
	}
}

func TestPingEventSweepsTheOutbox(t *testing.T) {
	fx := newFixture(t)
	fx.fn.relay.MinAge = 0
	// An order committed by a request that died before publishing: only the outbox has its event.
	o := &Order{ID: "11111111-1111-1111-1111-111111111111", UserID: "alice", Status: Requested, Items: lines}
	requested := eventstest.New(t, events.SourceOrder, events.OrderRequestedV1{OrderID: o.ID, UserID: o.UserID, Items: lines})
	if _, _, err := fx.fn.store.Create(context.Background(), o, Idempotency{}, requested); err != nil {
		t.Fatal(err)
	}
	if got := fx.published(t); len(got) != 0 {
		t.Fatalf("%d events published before the sweep", len(got))
	}
	ping := cloudevents.NewEvent()
	ping.SetID("ping-1")
	ping.SetSource("/apis/v1/namespaces/ordersaga/pingsources/outbox-sweep")
	ping.SetType(PingType)
	if reply, err := fx.fn.Handle(context.Background(), ping); err != nil || reply != nil {
		t.Fatalf("ping: %v, %v", reply, err)
	}
	got := fx.published(t)
	if len(got) != 1 || got[0].ID() != requested.ID() {
		t.Fatalf("published %v, want the stranded ORDER_REQUESTED %s", got, requested.ID())
	}
}

func TestTextPostgreSQLCannotStoreIsRefusedNotRetried(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)
	e := eventstest.New(t, events.SourcePayment, events.TransactionFailedV1{OrderID: o.ID, TransactionID: "tx-1", AmountCents: 1, Reason: "declined"})
	_ = e.SetData(cloudevents.ApplicationJSON, map[string]any{"order_id": o.ID, "transaction_id": "tx-1", "amount_cents": 1, "reason": "bad\x00reason"})
	if _, err := fx.fn.Handle(context.Background(), e); function.EventStatus(err) != http.StatusBadRequest {
		t.Errorf("NUL in reason: %v, want 400", err)
	}
	if got := fx.order(t, o.ID); got.Status != Requested {
		t.Errorf("order changed to %s", got.Status)
	}
}
