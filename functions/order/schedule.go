package order

import (
	"encoding/json"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// Schedule is when an unfinished order is due next (docs/SAGA.md, "Deadlines"). Each step gets
// StepTimeout; every republication of the step's event doubles the wait, up to MaxBackoff. A
// REQUESTED order nobody has asked to cancel yet is also due at its final deadline, FinalTimeout
// after it was created, when the deadline pass asks payment to void it.
type Schedule struct {
	StepTimeout  time.Duration
	MaxBackoff   time.Duration
	FinalTimeout time.Duration
}

// Defaults of ORDER_STEP_TIMEOUT, ORDER_STEP_MAX_BACKOFF and ORDER_FINAL_TIMEOUT: minutes, so a
// function's restart or a rollout is waited out before anything is republished, and an order that
// cannot finish is ended well within a customer's patience.
const (
	DefaultStepTimeout  = time.Minute
	DefaultMaxBackoff   = 5 * time.Minute
	DefaultFinalTimeout = 10 * time.Minute
)

// withDefaults fills the durations left zero (a Config built by hand, as tests do).
func (s Schedule) withDefaults() Schedule {
	if s.StepTimeout <= 0 {
		s.StepTimeout = DefaultStepTimeout
	}
	if s.MaxBackoff <= 0 {
		s.MaxBackoff = DefaultMaxBackoff
	}
	if s.FinalTimeout <= 0 {
		s.FinalTimeout = DefaultFinalTimeout
	}
	return s
}

// Start begins a step at now: next is the event that moves o on from here, and the step's first
// deadline is set. Errors: next does not encode (a programming error).
func (s Schedule) Start(o *Order, next cloudevents.Event, now time.Time) error {
	raw, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("encode %s for the deadline: %w", next.Type(), err)
	}
	o.nextEvent, o.DeadlineAttempts = raw, 0
	s.setDeadline(o, now)
	return nil
}

// Retry records one more republication of the step's event at now and sets the next deadline,
// further out.
func (s Schedule) Retry(o *Order, now time.Time) {
	o.DeadlineAttempts++
	s.setDeadline(o, now)
}

// PastFinal reports whether o is a REQUESTED order nobody has asked to cancel yet whose final
// deadline has passed at now: the deadline pass then asks payment to void it.
func (s Schedule) PastFinal(o *Order, now time.Time) bool {
	return s.awaitsFinal(o) && !now.Before(o.CreatedAt.Add(s.FinalTimeout))
}

// awaitsFinal: only a REQUESTED order can still be ended by a timer, and only once.
func (s Schedule) awaitsFinal(o *Order) bool {
	return o.Status == Requested && o.CancelRequestedReason == ""
}

func (s Schedule) setDeadline(o *Order, now time.Time) {
	due := now.Add(s.wait(o.DeadlineAttempts))
	if final := o.CreatedAt.Add(s.FinalTimeout); s.awaitsFinal(o) && final.Before(due) {
		due = final
	}
	o.DeadlineAt = &due
}

// wait is StepTimeout doubled per attempt, capped at MaxBackoff (and shifted no further than
// the cap needs, so a large attempt count cannot overflow).
func (s Schedule) wait(attempts int) time.Duration {
	d := s.StepTimeout
	for i := 0; i < attempts && d < s.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.MaxBackoff)
}
