package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDoStopsAtTheFirstSuccess(t *testing.T) {
	calls := 0
	err := Do(context.Background(), Backoff{Attempts: 5, Delay: time.Microsecond}, func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("busy")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("Do = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestDoReturnsTheLastErrorWhenTheAttemptsRunOut(t *testing.T) {
	calls := 0
	last := errors.New("still busy")
	err := Do(context.Background(), Backoff{Attempts: 4, Delay: time.Microsecond, Factor: 2}, func(context.Context) error {
		calls++
		if calls == 4 {
			return last
		}
		return errors.New("busy")
	})
	if !errors.Is(err, last) || calls != 4 {
		t.Errorf("Do = %v after %d calls, want the 4th call's error", err, calls)
	}
}

func TestDoGivesUpWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	failure := errors.New("down")
	calls := 0
	// An hour between attempts: only the cancelled context can end this.
	err := Do(ctx, Backoff{Attempts: 10, Delay: time.Hour}, func(context.Context) error {
		calls++
		cancel()
		return failure
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, failure) || calls != 1 {
		t.Errorf("Do = %v after %d calls, want context.Canceled and the failure after 1 call", err, calls)
	}
}

func TestNextGrowsUpToTheMaximum(t *testing.T) {
	b := Backoff{Factor: 2, MaxDelay: 300 * time.Millisecond}
	got := []time.Duration{100 * time.Millisecond}
	for range 3 {
		got = append(got, next(got[len(got)-1], b))
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
}
