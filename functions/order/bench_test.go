package order

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
)

// seedOrders stores n REQUESTED orders without publishing them.
func seedOrders(b *testing.B, fx *fixture, n int) []string {
	b.Helper()
	ids := make([]string, n)
	for i := range ids {
		o := &Order{ID: uuid.NewString(), UserID: "alice", Status: Requested, Items: lines}
		e := eventstest.New(b, events.SourceOrder, events.OrderRequestedV1{OrderID: o.ID, UserID: o.UserID, Items: lines})
		if _, _, err := fx.fn.store.Create(context.Background(), o, Idempotency{}, e); err != nil {
			b.Fatal(err)
		}
		ids[i] = o.ID
	}
	return ids
}

// BenchmarkHandleTransactionCompleted: one saga step, inbox row, row lock, update and reply in
// one transaction.
func BenchmarkHandleTransactionCompleted(b *testing.B) {
	fx := newFixture(b)
	ids := seedOrders(b, fx, b.N)
	evs := make([]func() error, b.N)
	for i, id := range ids {
		e := paid(b, id)
		evs[i] = func() error { _, err := fx.fn.Handle(context.Background(), e); return err }
	}
	b.ResetTimer()
	for i := range b.N {
		if err := evs[i](); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandleRedelivery: a duplicate answered from the inbox.
func BenchmarkHandleRedelivery(b *testing.B) {
	fx := newFixture(b)
	e := paid(b, seedOrders(b, fx, 1)[0])
	fx.deliver(b, e)
	b.ResetTimer()
	for range b.N {
		if _, err := fx.fn.Handle(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateOrder: POST /orders end to end: auth, order and outbox rows in one transaction,
// the publish to Kafka (embedded broker) and marking it published.
func BenchmarkCreateOrder(b *testing.B) {
	fx := newFixture(b)
	token := fx.keys.Token(b, "alice", auth.RoleUser)
	handler := fx.server.Config.Handler
	b.ResetTimer()
	for range b.N {
		req := httptest.NewRequest("POST", "/orders", strings.NewReader(`{"items":[{"sku":"BOOK-1","quantity":2}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
