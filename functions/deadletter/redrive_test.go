package deadletter

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pass runs one redrive pass and returns how many it delivered.
func (f *fixture) pass(tb testing.TB) int {
	tb.Helper()
	n, err := f.fn.RedrivePass(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// A subscriber down for longer than the Trigger's whole retry budget: its event is
// dead-lettered, backs off while the subscriber is not ready, and is delivered once it is; the
// subscriber's reply reaches the broker, so the saga moves on.
func TestRedriveDeliversOnceTheSubscriberIsBack(t *testing.T) {
	f := newFixture(t)
	sub := newSubscriber(t)
	sub.set(true, false)
	f.receive(t, deadLetter("ev-1", "INVENTORY_RESERVED", "order-1", sub.srv.URL, http.StatusServiceUnavailable))

	if n := f.pass(t); n != 0 {
		t.Fatalf("a pass before the first backoff delivered %d", n)
	}
	f.clock.advance(5 * time.Second)
	if n := f.pass(t); n != 0 {
		t.Fatalf("delivered %d to a subscriber that is down", n)
	}
	d := f.only(t, Filter{})
	if d.Status != Pending || !strings.Contains(d.LastError, "not ready") || d.Attempts != 2 {
		t.Fatalf("after an unready check: status %s attempts %d last_error %q", d.Status, d.Attempts, d.LastError)
	}
	if want := f.clock.now().Add(10 * time.Second); !d.NextAttemptAt.Equal(want) {
		t.Errorf("next attempt %v, want %v (5s doubled)", d.NextAttemptAt, want)
	}
	// Backoff grows to the cap while the subscriber stays down for an hour.
	for range 60 {
		f.clock.advance(time.Minute)
		f.pass(t)
	}
	d = f.only(t, Filter{})
	if want := f.clock.now().Add(time.Minute); d.Status != Pending || !d.NextAttemptAt.Equal(want) {
		t.Fatalf("after an hour down: status %s next %v, want pending at %v (the 1m cap)", d.Status, d.NextAttemptAt, want)
	}
	if len(sub.events()) != 0 {
		t.Fatalf("the subscriber got %d events while not ready", len(sub.events()))
	}

	sub.set(false, false)
	f.clock.advance(time.Minute)
	if n := f.pass(t); n != 1 {
		t.Fatalf("pass delivered %d, want 1", n)
	}
	d = f.only(t, Filter{})
	if d.Status != Delivered || d.NextAttemptAt != nil {
		t.Errorf("status %s next %v, want delivered, unscheduled", d.Status, d.NextAttemptAt)
	}
	got := sub.events()
	if len(got) != 1 || got[0].ID() != "ev-1" || got[0].Subject() != "order-1" {
		t.Fatalf("subscriber got %v, want ev-1", got)
	}
	if _, ok := got[0].Extensions()[ExtErrorCode]; ok {
		t.Error("the redelivered event still carries the sink's knativeerrorcode")
	}
	replies := f.sink.events()
	if len(replies) != 1 || replies[0].ID() != "reply-ev-1" || replies[0].Type() != "TRANSACTION_COMPLETED" {
		t.Fatalf("broker got %v, want the subscriber's reply", replies)
	}
	if n := f.pass(t); n != 0 || len(sub.events()) != 1 {
		t.Errorf("a delivered dead letter was redriven again")
	}
}

func TestRedriveGivesUpAfterItsWindow(t *testing.T) {
	f := newFixture(t)
	sub := newSubscriber(t)
	sub.set(true, false)
	f.receive(t, deadLetter("ev-2", "INVENTORY_RESERVED", "order-2", sub.srv.URL, 0))
	f.clock.advance(24 * time.Hour)
	sub.set(false, false) // back, but too late for the redrive: a person decides now
	f.pass(t)
	d := f.only(t, Filter{})
	if d.Status != FailedPermanently || !strings.Contains(d.LastError, "window") {
		t.Fatalf("status %s last_error %q, want failed_permanently for the window", d.Status, d.LastError)
	}
	if len(sub.events()) != 0 {
		t.Fatal("redriven after its window")
	}
	got, err := f.fn.Replay(context.Background(), d.ID, false)
	if err != nil || got.Status != Delivered || got.Replays != 1 {
		t.Fatalf("Replay = %s replays %d, %v; want delivered once", got.Status, got.Replays, err)
	}
}

func TestRefusedDeadLettersAreNotRedriven(t *testing.T) {
	f := newFixture(t)
	sub := newSubscriber(t)
	f.receive(t, deadLetter("ev-3", "ORDER_ACCEPTED", "order-3", sub.srv.URL, http.StatusBadRequest))
	for range 3 {
		f.clock.advance(time.Hour)
		f.pass(t)
	}
	if len(sub.events()) != 0 {
		t.Fatal("a 4xx dead letter was redriven")
	}
	d := f.only(t, Filter{})
	// Still refused on replay: recorded, and still waiting for a person.
	sub.set(false, true)
	got, err := f.fn.Replay(context.Background(), d.ID, false)
	if err != nil || got.Status != FailedPermanently || got.ErrorCode != 400 || got.Replays != 1 || got.Attempts != 2 {
		t.Fatalf("Replay = %+v, %v; want failed_permanently with code 400, 1 replay, 2 attempts", got.view(), err)
	}
	sub.set(false, false)
	if got, err = f.fn.Replay(context.Background(), d.ID, false); err != nil || got.Status != Delivered {
		t.Fatalf("Replay after the fix = %s, %v", got.Status, err)
	}
	if _, err := f.fn.Replay(context.Background(), d.ID, false); err == nil || !strings.Contains(err.Error(), "already delivered") {
		t.Errorf("replaying a delivered one without force = %v, want a conflict", err)
	}
	if got, err = f.fn.Replay(context.Background(), d.ID, true); err != nil || got.Status != Delivered || got.Replays != 3 {
		t.Errorf("forced replay = %s replays %d, %v", got.Status, got.Replays, err)
	}
}

// The subscriber takes the event but the broker does not take the reply: not delivered, since
// the saga would not move on; redelivering is safe, the subscriber's inbox replies again.
func TestALostReplyIsRetried(t *testing.T) {
	f := newFixture(t)
	sub := newSubscriber(t)
	f.sink.srv.Close()
	f.receive(t, deadLetter("ev-4", "INVENTORY_RESERVED", "order-4", sub.srv.URL, 502))
	f.clock.advance(5 * time.Second)
	if n := f.pass(t); n != 0 {
		t.Fatalf("delivered %d with the broker down", n)
	}
	d := f.only(t, Filter{})
	if d.Status != Pending || !strings.Contains(d.LastError, "not sent to the broker") || d.ErrorCode != 502 {
		t.Errorf("status %s code %d last_error %q", d.Status, d.ErrorCode, d.LastError)
	}
}

func TestBackoff(t *testing.T) {
	f := &Function{redrive: RedriveConfig{Initial: 5 * time.Second, MaxBackoff: time.Minute}}
	for attempts, want := range map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 4: 40 * time.Second, 5: time.Minute, 1000: time.Minute} {
		if got := f.backoff(attempts); got != want {
			t.Errorf("backoff(%d) = %v, want %v", attempts, got, want)
		}
	}
}

// Two replicas passing at once deliver each dead letter once: SKIP LOCKED claims.
func TestConcurrentPassesClaimEachDeadLetterOnce(t *testing.T) {
	f := newFixture(t)
	sub := newSubscriber(t)
	for i := range 20 {
		f.receive(t, deadLetter("ev-c"+string(rune('a'+i)), "INVENTORY_RESERVED", "order-c", sub.srv.URL, 503))
	}
	f.clock.advance(5 * time.Second)
	total := make(chan int, 2)
	for range 2 {
		go func() {
			n, err := f.fn.RedrivePass(context.Background())
			if err != nil {
				t.Error(err)
			}
			total <- n
		}()
	}
	if n := <-total + <-total; n != 20 || len(sub.events()) != 20 {
		t.Errorf("delivered %d, subscriber got %d; want 20 each", n, len(sub.events()))
	}
}

func TestPruneForgetsOnlyOldDeliveredDeadLetters(t *testing.T) {
	f := newFixture(t)
	sub := newSubscriber(t)
	f.receive(t, deadLetter("ev-old-delivered", "INVENTORY_RESERVED", "order-1", sub.srv.URL, 503))
	f.receive(t, deadLetter("ev-old-refused", "ORDER_ACCEPTED", "order-2", sub.srv.URL, 400))
	f.clock.advance(5 * time.Second)
	if n := f.pass(t); n != 1 {
		t.Fatalf("pass delivered %d, want 1", n)
	}
	f.clock.advance(29 * 24 * time.Hour)
	f.receive(t, deadLetter("ev-new", "INVENTORY_RESERVED", "order-3", sub.srv.URL, 503))
	f.clock.advance(5 * time.Second)
	f.pass(t)
	f.clock.advance(24 * time.Hour) // the first is now 30 days old, the last one day

	n, err := f.fn.Prune(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	all, err := store{db: f.fn.Pool}.List(context.Background(), Filter{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, d := range all {
		left = append(left, d.EventID)
	}
	if strings.Join(left, ",") != "ev-new,ev-old-refused" {
		t.Errorf("left %v, want the recent delivered one and the undelivered one", left)
	}
}
