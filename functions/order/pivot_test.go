package order

import (
	"context"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/functions/payment"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

// The pivot race end to end: a cancel request (the customer's or the final deadline's) and the
// charge reach payment in either order, and payment's two answers reach the order in either
// order. Whatever happens, a CANCELLED order has no completed transaction and an order payment
// charged ends APPROVED, never cancelled.
func TestPivotRaceNeverChargesACancelledOrderNorCancelsAPaidOne(t *testing.T) {
	for _, requester := range []string{events.ReasonCancelledByCustomer, events.ReasonTimeout} {
		for _, chargeFirst := range []bool{true, false} {
			for _, repliesReversed := range []bool{false, true} {
				name := requester + map[bool]string{true: "/charge first", false: "/void first"}[chargeFirst] +
					map[bool]string{false: "/replies in order", true: "/replies reversed"}[repliesReversed]
				t.Run(name, func(t *testing.T) {
					pivotRace(t, requester, chargeFirst, repliesReversed)
				})
			}
		}
	}
}

func pivotRace(t *testing.T, requester string, chargeFirst, repliesReversed bool) {
	fx := newFixture(t)
	pay, err := payment.Open(context.Background(), payment.Config{
		DatabaseURL: pgtest.NewSchema(t, "ordersaga_payment", payment.Schema), SuccessRate: 1, // would always charge
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pay.Close)

	o := fx.placeOrder(t)
	if requester == events.ReasonTimeout {
		fx.clock.advance(10*time.Minute + time.Second)
		if n := fx.pass(t); n != 1 {
			t.Fatalf("deadline pass drove %d orders, want 1", n)
		}
	} else if resp := fx.do(t, "POST", "/orders/"+o.ID+"/cancel", fx.keys.Token(t, "alice", auth.RoleUser), ""); resp.StatusCode != 202 {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	requests := ofType(fx.published(t), events.OrderCancelRequested)
	if len(requests) != 1 {
		t.Fatalf("%d cancel requests published, want 1", len(requests))
	}
	inventoryReserved := reserved(t, o.ID)
	fx.deliver(t, inventoryReserved) // the order reacts to the same event payment charges on

	atPayment := []cloudevents.Event{inventoryReserved, requests[0]}
	if !chargeFirst {
		atPayment[0], atPayment[1] = atPayment[1], atPayment[0]
	}
	var replies []cloudevents.Event
	for _, e := range atPayment {
		reply, err := pay.Handle(context.Background(), e)
		if err != nil || reply == nil {
			t.Fatalf("payment %s: %v, %v", e.Type(), reply, err)
		}
		replies = append(replies, *reply)
	}
	if repliesReversed {
		replies[0], replies[1] = replies[1], replies[0]
	}
	var emitted []events.Type
	for _, r := range replies {
		if out := fx.deliver(t, r); out != nil {
			emitted = append(emitted, events.Type(out.Type()))
		}
	}

	var charged string
	if err := pay.Pool.QueryRow(context.Background(), `SELECT status FROM transactions WHERE order_id = $1`, o.ID).Scan(&charged); err != nil {
		t.Fatal(err)
	}
	got := fx.order(t, o.ID)
	switch {
	case got.Status == Cancelled && charged == "COMPLETED":
		t.Fatalf("a cancelled order was charged")
	case got.Status == Approved && charged != "COMPLETED":
		t.Fatalf("an approved order has a %s transaction", charged)
	case chargeFirst && (got.Status != Approved || len(emitted) != 1 || emitted[0] != events.OrderAccepted):
		t.Errorf("charged first: %s emitting %v; want APPROVED and one ORDER_ACCEPTED, never cancelled", got.Status, emitted)
	case !chargeFirst && (got.Status != Cancelled || got.CancelReason != requester || len(emitted) != 1 || emitted[0] != events.OrderCancelled):
		t.Errorf("voided first: %s (%q) emitting %v; want CANCELLED (%s) and one ORDER_CANCELLED", got.Status, got.CancelReason, emitted, requester)
	}
}
