package deadletter

import (
	"context"
	"strings"
	"testing"
)

// knativeerrordest comes with the event: with DestinationHosts set, the sink posts only to those
// hosts, whoever sent it the dead letter.
func TestOnlyAllowedDestinationsAreRedelivered(t *testing.T) {
	f := newFixture(t)
	sub := newSubscriber(t) // on 127.0.0.1, which is not allowed
	f.fn.destinationHosts = []string{"ordersaga.svc.cluster.local"}

	f.receive(t, deadLetter("ev-ok", "INVENTORY_RESERVED", "order-1", "http://payment.ordersaga.svc.cluster.local", 503))
	if d := f.only(t, Filter{OrderID: "order-1"}); d.Status != Pending || !d.Retryable {
		t.Errorf("allowed destination: status %s retryable %v, want pending", d.Status, d.Retryable)
	}
	for i, dest := range []string{sub.srv.URL, "http://ordersaga.svc.cluster.local.evil.example/", "ftp://payment.ordersaga.svc.cluster.local/"} {
		order := "order-x" + string(rune('0'+i))
		f.receive(t, deadLetter("ev-"+order, "INVENTORY_RESERVED", order, dest, 503))
		d := f.only(t, Filter{OrderID: order})
		if d.Status != FailedPermanently || d.Retryable || !strings.Contains(d.LastError, ExtErrorDest) {
			t.Errorf("%s: status %s retryable %v last_error %q, want failed_permanently naming %s", dest, d.Status, d.Retryable, d.LastError, ExtErrorDest)
		}
		after, err := f.fn.Replay(context.Background(), d.ID, false)
		if err != nil || after.Status != FailedPermanently || after.Replays != 1 {
			t.Errorf("replay to %s: %s replays %d, %v; want refused and recorded", dest, after.Status, after.Replays, err)
		}
	}
	if got := len(sub.events()); got != 0 {
		t.Fatalf("the sink posted %d events to a host it may not", got)
	}

	f.fn.destinationHosts = append(f.fn.destinationHosts, "127.0.0.1")
	d := f.only(t, Filter{OrderID: "order-x0"})
	if after, err := f.fn.Replay(context.Background(), d.ID, false); err != nil || after.Status != Delivered {
		t.Errorf("replay once allowed: %s, %v", after.Status, err)
	}
}
