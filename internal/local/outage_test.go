package local

import (
	"context"
	"syscall"
	"testing"
	"time"

	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"

	"github.com/ordersaga/ordersaga/internal/client"
)

// A function that does not answer for longer than its Triggers' whole retry budget loses no
// order: what the Triggers give up on is dead-lettered, stored, and redriven once the function
// answers again, and every order ends with stock conserved and nothing left reserved. The
// budget is cut to about two seconds (one retry, one-second timeout) so the outage outlasts it
// many times over in a test's time.
func TestAnOutageLongerThanTheRetryBudgetHeals(t *testing.T) {
	x := startE2E(t, func(c *Config) {
		c.Delivery = func(d *eventingduckv1.DeliverySpec) {
			retry, backoff, timeout := int32(1), "PT0.1S", "PT1S"
			d.Retry, d.BackoffDelay, d.Timeout = &retry, &backoff, &timeout
		}
	})
	x.stock(t, "OUTAGE-A", 700, 1000)
	const n = 12
	orders := make([][]client.Line, n)
	for i := range orders {
		orders[i] = []client.Line{{SKU: "OUTAGE-A", Quantity: 1}}
	}

	if err := x.stack.Signal("payment", syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := x.stack.Signal("payment", syscall.SIGCONT); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(resume)
	ids := x.placeConcurrently(t, orders, nil)

	// Payment stays hung until the Triggers have given up on every order's charge.
	ctx, cancel := context.WithTimeout(context.Background(), sagaDeadline)
	defer cancel()
	toPayment := client.DeadLetterFilter{Type: "INVENTORY_RESERVED"}
	for {
		letters, err := x.admin.DeadLetters(ctx, toPayment, 100)
		if err == nil && len(letters) >= n {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the Triggers never gave up on payment: %d dead letters (%v)", len(letters), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	for _, id := range ids {
		if o, err := x.user.Order(ctx, id); err != nil || client.Terminal(o.Status) {
			t.Errorf("order %s while payment was hung: %s, %v; want it waiting for its charge", id, o.Status, err)
		}
	}
	resume()

	ended := x.waitTerminal(t, ids)
	completed, declined, _ := x.checkSaga(t, ids, ended)
	if completed+declined != n {
		t.Errorf("%d completed and %d declined, want all %d charged one way or the other", completed, declined, n)
	}
	letters, err := x.admin.DeadLetters(context.Background(), toPayment, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range letters {
		if d.Status != "delivered" {
			t.Errorf("dead letter %s for order %s is %s, want delivered by the redrive (last error %q)", d.ID, d.OrderID, d.Status, d.LastError)
		}
	}
	t.Logf("%d orders: %d completed, %d declined; %d dead letters redriven", n, completed, declined, len(letters))
}
