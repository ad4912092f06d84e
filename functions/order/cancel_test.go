package order

import (
	"net/http"
	"testing"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/auth/authtest"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
)

func TestOwnerCancelRequestsTheVoidOnce(t *testing.T) {
	fx := newFixture(t)
	alice := fx.keys.Token(t, "alice", auth.RoleUser)
	o := fx.placeOrder(t)

	resp := fx.do(t, "POST", "/orders/"+o.ID+"/cancel", alice, "")
	view := decodeBody[Order](t, resp)
	if resp.StatusCode != http.StatusAccepted || view.Status != Requested || view.CancelRequestedReason != events.ReasonCancelledByCustomer {
		t.Fatalf("cancel: %d %+v; want 202, still REQUESTED, cancelled_by_customer", resp.StatusCode, view)
	}
	requests := ofType(fx.published(t), events.OrderCancelRequested)
	if len(requests) != 1 {
		t.Fatalf("%d ORDER_CANCEL_REQUESTED published, want 1", len(requests))
	}
	if p := eventstest.Decode[events.OrderCancelRequestedV1](t, &requests[0]); p.OrderID != o.ID || p.Reason != events.ReasonCancelledByCustomer {
		t.Errorf("request = %+v", p)
	}
	if n := fx.countRows(t, "outbox"); n != 2 {
		t.Errorf("outbox holds %d events, want ORDER_REQUESTED and the cancel request", n)
	}

	// Asking again changes nothing and sends nothing new.
	resp = fx.do(t, "POST", "/orders/"+o.ID+"/cancel", alice, "")
	if again := decodeBody[Order](t, resp); resp.StatusCode != http.StatusAccepted || again.CancelRequestedReason != events.ReasonCancelledByCustomer {
		t.Errorf("repeated cancel: %d %+v, want 202", resp.StatusCode, again)
	}
	if n := fx.countRows(t, "outbox"); n != 2 {
		t.Errorf("repeated cancel: outbox holds %d events, want still 2", n)
	}
	if n := len(ofType(fx.published(t), events.OrderCancelRequested)); n != 1 {
		t.Errorf("repeated cancel published %d requests in all, want 1", n)
	}

	// Payment's void cancels it with the customer's reason.
	void := eventstest.New(t, events.SourcePayment, events.TransactionFailedV1{OrderID: o.ID, TransactionID: "tx-void", Reason: events.ReasonCancelled})
	if cancelled := eventstest.Decode[events.OrderCancelledV1](t, fx.deliver(t, void)); cancelled.Reason != events.ReasonCancelledByCustomer {
		t.Errorf("ORDER_CANCELLED reason %q, want cancelled_by_customer", cancelled.Reason)
	}
	resp = fx.do(t, "POST", "/orders/"+o.ID+"/cancel", alice, "")
	if body := decodeBody[map[string]string](t, resp); resp.StatusCode != http.StatusConflict || body["error"] != "order "+o.ID+" is already cancelled" {
		t.Errorf("cancel of a cancelled order: %d %v, want 409", resp.StatusCode, body)
	}
}

func TestCancelOfAPaidOrderIsAConflict(t *testing.T) {
	fx := newFixture(t)
	alice := fx.keys.Token(t, "alice", auth.RoleUser)
	approved, _ := fx.placeApprovedOrder(t)
	completed, _ := fx.placeApprovedOrder(t)
	fx.deliver(t, shipped(t, completed.ID))
	for _, c := range []struct {
		id     string
		status Status
	}{{approved.ID, Approved}, {completed.ID, Completed}} {
		resp := fx.do(t, "POST", "/orders/"+c.id+"/cancel", alice, "")
		body := decodeBody[map[string]string](t, resp)
		want := "order " + c.id + " is " + string(c.status) + ": payment has succeeded, it can no longer be cancelled"
		if resp.StatusCode != http.StatusConflict || body["error"] != want {
			t.Errorf("cancel of a %s order: %d %v, want 409 %q", c.status, resp.StatusCode, body, want)
		}
		if got := fx.order(t, c.id); got.Status != c.status || got.CancelRequestedReason != "" {
			t.Errorf("after the refused cancel: %s, requested %q", got.Status, got.CancelRequestedReason)
		}
	}
	if n := len(ofType(fx.published(t), events.OrderCancelRequested)); n != 0 {
		t.Errorf("%d cancel requests published for paid orders", n)
	}
}

func TestCancelOfSomeoneElsesOrderIsNotFound(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)
	bob := fx.keys.Token(t, "bob", auth.RoleUser)
	for _, path := range []string{"/orders/" + o.ID + "/cancel", "/orders/00000000-0000-0000-0000-000000000000/cancel", "/orders/not-a-uuid/cancel"} {
		if resp := fx.do(t, "POST", path, bob, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("bob POST %s: %d, want 404", path, resp.StatusCode)
		}
	}
	if got := fx.order(t, o.ID); got.CancelRequestedReason != "" {
		t.Errorf("bob's attempt recorded a request: %q", got.CancelRequestedReason)
	}
	// An admin may, as for GET /orders/{id}.
	admin := fx.keys.Token(t, "root", auth.RoleAdmin)
	if resp := fx.do(t, "POST", "/orders/"+o.ID+"/cancel", admin, ""); resp.StatusCode != http.StatusAccepted {
		t.Errorf("admin cancel: %d, want 202", resp.StatusCode)
	}
}

func TestCancelRequiresAValidToken(t *testing.T) {
	fx := newFixture(t)
	o := fx.placeOrder(t)
	stranger := authtest.NewKeys(t).Token(t, "alice", auth.RoleUser) // signed by another key
	tokens := []string{"", stranger}
	for _, bad := range fx.keys.BadTokens(t) {
		tokens = append(tokens, bad.Token)
	}
	for _, token := range tokens {
		resp := fx.do(t, "POST", "/orders/"+o.ID+"/cancel", token, "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("token %.10q: %d, want 401", token, resp.StatusCode)
		}
	}
	if got := fx.order(t, o.ID); got.CancelRequestedReason != "" {
		t.Errorf("an unauthenticated cancel recorded a request: %q", got.CancelRequestedReason)
	}
}
