package payment

import (
	"context"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
)

func cancelRequested(tb testing.TB, orderID string, total int64) cloudevents.Event {
	tb.Helper()
	return eventstest.New(tb, events.SourceOrder, events.OrderCancelRequestedV1{
		OrderID: orderID, Reason: events.ReasonCancelledByCustomer, TotalCents: total,
	})
}

// failedReason decodes a TRANSACTION_FAILED reply and returns its reason and transaction id.
func failedReason(tb testing.TB, reply *cloudevents.Event) (reason, transactionID string) {
	tb.Helper()
	if reply == nil || events.Type(reply.Type()) != events.TransactionFailed {
		tb.Fatalf("reply %v, want TRANSACTION_FAILED", reply)
	}
	p := eventstest.Decode[events.TransactionFailedV1](tb, reply)
	return p.Reason, p.TransactionID
}

func TestCancelRequestBeforeChargeVoidsTheOrder(t *testing.T) {
	f := open(t, Config{SuccessRate: 1})
	orderID := uuid.NewString()

	reason, voidID := failedReason(t, handle(t, f, cancelRequested(t, orderID, 0)))
	if reason != events.ReasonCancelled {
		t.Errorf("void reason = %q, want %q", reason, events.ReasonCancelled)
	}
	// A success rate of 1 would charge: the void is what stops it.
	reason, id := failedReason(t, handle(t, f, reserved(t, orderID, 1999)))
	if reason != events.ReasonCancelled || id != voidID {
		t.Errorf("INVENTORY_RESERVED after the void: %s %s, want the void %s %s", reason, id, events.ReasonCancelled, voidID)
	}
	var completed int
	if err := f.Pool.QueryRow(context.Background(), `SELECT count(*) FROM transactions WHERE status = 'COMPLETED'`).Scan(&completed); err != nil {
		t.Fatal(err)
	}
	if completed != 0 {
		t.Errorf("%d completed transactions for a voided order", completed)
	}
}

func TestCancelRequestAfterChargeRepliesCompleted(t *testing.T) {
	f := open(t, Config{SuccessRate: 1})
	orderID := uuid.NewString()
	charged := outcomeOf(t, handle(t, f, reserved(t, orderID, 1999)))
	if !charged.completed {
		t.Fatal("charge at rate 1 failed")
	}
	again := outcomeOf(t, handle(t, f, cancelRequested(t, orderID, 1999)))
	if again != charged {
		t.Errorf("cancel request after the charge: %+v, want the charge %+v", again, charged)
	}
	if n := count(t, f, "transactions"); n != 1 {
		t.Errorf("%d transactions, want 1", n)
	}
}

func TestCancelRequestAfterDeclineRepliesDeclined(t *testing.T) {
	f := open(t, Config{SuccessRate: 0})
	orderID := uuid.NewString()
	_, declinedID := failedReason(t, handle(t, f, reserved(t, orderID, 1999)))
	reason, id := failedReason(t, handle(t, f, cancelRequested(t, orderID, 1999)))
	if reason != events.ReasonPaymentDeclined || id != declinedID {
		t.Errorf("cancel request after a decline: %s %s, want %s %s", reason, id, events.ReasonPaymentDeclined, declinedID)
	}
}

func TestRedeliveredCancelRequestGetsTheStoredReply(t *testing.T) {
	f := open(t, Config{SuccessRate: 1})
	request := cancelRequested(t, uuid.NewString(), 0)
	first := handle(t, f, request)
	second := handle(t, f, request)
	if first == nil || second == nil || first.ID() != second.ID() || string(first.Data()) != string(second.Data()) {
		t.Errorf("redelivery answered %v, first delivery %v", second, first)
	}
	if n := count(t, f, "transactions"); n != 1 {
		t.Errorf("%d transactions, want 1", n)
	}
}
