package order

import (
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/function"
)

func TestScheduleBacksOffUpToTheCap(t *testing.T) {
	s := Schedule{}.withDefaults()
	created := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	o := &Order{ID: "o", Status: Approved, CreatedAt: created} // no final deadline for a paid order
	if err := s.Start(o, event.New(), created); err != nil {
		t.Fatal(err)
	}
	if want := created.Add(time.Minute); !o.DeadlineAt.Equal(want) || o.DeadlineAttempts != 0 || o.nextEvent == nil {
		t.Fatalf("Start: due %v attempts %d event %v; want %v, 0, stored", o.DeadlineAt, o.DeadlineAttempts, o.nextEvent != nil, want)
	}
	now := created
	for i, wait := range []time.Duration{2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		now = *o.DeadlineAt
		s.Retry(o, now)
		if got := o.DeadlineAt.Sub(now); got != wait || o.DeadlineAttempts != i+1 {
			t.Errorf("retry %d: waits %s (attempts %d), want %s", i+1, got, o.DeadlineAttempts, wait)
		}
	}
	o.DeadlineAttempts = 1 << 40 // the doubling stops at the cap instead of overflowing
	s.Retry(o, now)
	if got := o.DeadlineAt.Sub(now); got != 5*time.Minute {
		t.Errorf("after many attempts: waits %s, want the 5m cap", got)
	}
}

func TestScheduleCapsARequestedOrderAtItsFinalDeadline(t *testing.T) {
	s := Schedule{}.withDefaults()
	created := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	final := created.Add(10 * time.Minute)
	o := &Order{ID: "o", Status: Requested, CreatedAt: created, DeadlineAttempts: 3}
	s.Retry(o, created.Add(8*time.Minute)) // 8m + 5m would be past the final deadline
	if !o.DeadlineAt.Equal(final) {
		t.Errorf("due %v, want the final deadline %v", o.DeadlineAt, final)
	}
	if s.PastFinal(o, final.Add(-time.Nanosecond)) || !s.PastFinal(o, final) {
		t.Error("PastFinal is not exactly at created_at + FinalTimeout")
	}

	o.CancelRequestedReason = events.ReasonCancelledByCustomer // asked: no second final deadline
	s.Retry(o, created.Add(8*time.Minute))
	if !o.DeadlineAt.After(final) || s.PastFinal(o, final.Add(time.Hour)) {
		t.Errorf("an order asked to be cancelled is due %v and past final %v", o.DeadlineAt, s.PastFinal(o, final.Add(time.Hour)))
	}
	paid := &Order{ID: "o", Status: Approved, CreatedAt: created}
	if s.PastFinal(paid, final.Add(time.Hour)) {
		t.Error("an APPROVED order is past its final deadline: a timer would cancel a paid order")
	}
}

func TestConfigRejectsABackoffCapBelowTheStep(t *testing.T) {
	if _, err := (Config{StepTimeout: time.Minute, MaxBackoff: time.Second}).schedule(); err == nil {
		t.Error("a 1s cap under a 1m step was accepted")
	}
	if _, err := (Config{StepTimeout: -time.Second}).schedule(); err == nil {
		t.Error("a negative step was accepted")
	}
	s, err := Config{}.schedule()
	if err != nil || s != (Schedule{time.Minute, 5 * time.Minute, 10 * time.Minute}) {
		t.Errorf("defaults: %+v, %v", s, err)
	}
}

func TestDeadlineKnobsFromEnv(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://127.0.0.1:1/none")
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:1")
	t.Setenv("ORDER_STEP_TIMEOUT", "30s")
	t.Setenv("ORDER_STEP_MAX_BACKOFF", "2m")
	t.Setenv("ORDER_FINAL_TIMEOUT", "1h")
	cfg, err := function.ConfigFromEnv[Config]()
	if err != nil {
		t.Fatal(err)
	}
	s, err := cfg.schedule()
	if err != nil || s != (Schedule{30 * time.Second, 2 * time.Minute, time.Hour}) || cfg.Now != nil {
		t.Errorf("schedule %+v, %v (clock set: %v)", s, err, cfg.Now != nil)
	}
}
