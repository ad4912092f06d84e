// Package retry calls an operation again, with exponential backoff, until it succeeds, its
// attempts run out or its context ends. It is small on purpose: function binaries must not
// import Kubernetes packages, so k8s.io/apimachinery's wait package is not an option here.
package retry

import (
	"context"
	"errors"
	"time"
)

// Backoff says how often and how patiently to try.
type Backoff struct {
	// Attempts is how many times the operation is called at most; 0 or less means once.
	Attempts int
	// Delay is the wait after the first failure; each later wait is Factor times the one before
	// (Factor below 1 counts as 1), at most MaxDelay when MaxDelay is set.
	Delay    time.Duration
	Factor   float64
	MaxDelay time.Duration
}

// Do calls op until it returns nil, and waits between failures as b says. A wait ends early
// when ctx does. Errors: op's last error once the attempts run out; when ctx ends first, ctx's
// error joined with op's last one, so the caller sees both why it stopped and what failed.
func Do(ctx context.Context, b Backoff, op func(ctx context.Context) error) error {
	delay := b.Delay
	var err error
	for attempt := 1; ; attempt++ {
		if err = op(ctx); err == nil {
			return nil
		}
		if attempt >= b.Attempts {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(ctx.Err(), err)
		case <-t.C:
		}
		delay = next(delay, b)
	}
}

// next is the wait after delay.
func next(delay time.Duration, b Backoff) time.Duration {
	if b.Factor > 1 {
		delay = time.Duration(float64(delay) * b.Factor)
	}
	if b.MaxDelay > 0 && delay > b.MaxDelay {
		delay = b.MaxDelay
	}
	return delay
}
