package loadtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/events"
)

// BurstLoad is the burst scenario: from every function at zero, Orders orders placed at once by
// Clients clients (each posts its next order as soon as the previous one is accepted, without
// waiting for sagas to end), while the stack's scaling status is polled.
type BurstLoad struct {
	Orders, Clients int
	SKUs            []string
	// Timeout bounds the wait for zero before the burst, for the orders to end, and for the
	// functions to return to zero after it.
	Timeout time.Duration
}

// BurstResult is what the burst scenario measured; times are seconds from the first POST
// (IdleToZeroS: from the call) or, for DrainS and BackToZeroS, from the last order's end.
type BurstResult struct {
	Orders      int `json:"orders"`
	Clients     int `json:"clients"`
	Completed   int `json:"completed"`
	Cancelled   int `json:"cancelled"`
	FailedPosts int `json:"failed_posts"`
	Lost        int `json:"lost"`
	// IdleToZeroS is how long the idle stack took to reach zero instances before the burst.
	IdleToZeroS float64 `json:"idle_to_zero_s"`
	// FirstTerminalS is the cold chain: the first order through every function from zero.
	FirstTerminalS float64 `json:"first_terminal_s"`
	AllTerminalS   float64 `json:"all_terminal_s"`
	// PeakInstances and ColdStarts are per function, over the burst.
	PeakInstances map[string]int `json:"peak_instances"`
	ColdStarts    map[string]int `json:"cold_starts"`
	// DrainS: until no function has more than one instance and none is draining. BackToZeroS:
	// until every function has none. -1 when not reached within the timeout.
	DrainS      float64 `json:"drain_s"`
	BackToZeroS float64 `json:"back_to_zero_s"`
	FirstError  string  `json:"first_error,omitempty"`
}

// Burst runs the burst scenario: orders as user, the scaling status from status (the stack's
// gateway, from this machine).
func Burst(ctx context.Context, user, status *client.Client, w *Watcher, load BurstLoad) (BurstResult, error) {
	res := BurstResult{Orders: load.Orders, Clients: load.Clients, PeakInstances: map[string]int{}, ColdStarts: map[string]int{}}
	waitStart := time.Now()
	before, err := waitScale(ctx, status, load.Timeout, atZero)
	if err != nil {
		return res, fmt.Errorf("waiting for the functions to reach zero: %w", err)
	}
	res.IdleToZeroS = Round(time.Since(waitStart).Seconds(), 1)

	pollCtx, stopPolling := context.WithCancel(ctx)
	polled := make(chan map[string]int, 1)
	go func() { polled <- pollPeaks(pollCtx, status) }()

	start := time.Now()
	endings := make([]Ending, load.Orders)
	errs := make([]error, load.Orders)
	posted := make([]bool, load.Orders)
	next := make(chan int)
	var posting, waiting sync.WaitGroup
	for range load.Clients {
		posting.Add(1)
		go func() {
			defer posting.Done()
			for i := range next {
				lines := []client.Line{{SKU: load.SKUs[rand.IntN(len(load.SKUs))], Quantity: 1}}
				o, err := user.PlaceOrder(ctx, lines, "")
				if err != nil {
					errs[i] = fmt.Errorf("POST /orders: %w", err)
					continue
				}
				posted[i] = true
				waiting.Add(1)
				go func() {
					defer waiting.Done()
					wctx, cancel := context.WithTimeout(ctx, load.Timeout)
					defer cancel()
					endings[i], errs[i] = w.Wait(wctx, o.ID)
				}()
			}
		}()
	}
	for i := range load.Orders {
		next <- i
	}
	close(next)
	posting.Wait()
	waiting.Wait()

	var first, last time.Time
	for i := range load.Orders {
		switch {
		case !posted[i]:
			res.FailedPosts++
		case errs[i] != nil:
			res.Lost++
		default:
			if endings[i].Type == events.OrderCompleted {
				res.Completed++
			} else {
				res.Cancelled++
			}
			if first.IsZero() || endings[i].At.Before(first) {
				first = endings[i].At
			}
			last = maxTime(last, endings[i].At)
		}
		if errs[i] != nil && res.FirstError == "" {
			res.FirstError = errs[i].Error()
		}
	}
	if !first.IsZero() {
		res.FirstTerminalS = Round(first.Sub(start).Seconds(), 2)
		res.AllTerminalS = Round(last.Sub(start).Seconds(), 2)
	}

	ended := time.Now()
	res.DrainS, res.BackToZeroS = -1, -1
	if _, err := waitScale(ctx, status, load.Timeout, drained); err == nil {
		res.DrainS = Round(time.Since(ended).Seconds(), 1)
	}
	after, err := waitScale(ctx, status, load.Timeout, atZero)
	if err == nil {
		res.BackToZeroS = Round(time.Since(ended).Seconds(), 1)
	}
	stopPolling()
	for name, peak := range <-polled {
		res.PeakInstances[name] = peak
	}
	coldStartsBefore := map[string]int{}
	for _, f := range before.Functions {
		coldStartsBefore[f.Name] = f.ColdStarts
	}
	for _, f := range after.Functions {
		res.ColdStarts[f.Name] = f.ColdStarts - coldStartsBefore[f.Name]
	}
	return res, nil
}

// atZero: no function has an instance.
func atZero(s client.ScaleStatus) bool {
	for _, f := range s.Functions {
		if f.Instances > 0 || f.Draining > 0 {
			return false
		}
	}
	return true
}

// drained: every function is down to at most one instance, none draining.
func drained(s client.ScaleStatus) bool {
	for _, f := range s.Functions {
		if f.Instances > 1 || f.Draining > 0 {
			return false
		}
	}
	return true
}

// waitScale polls the scaling status until cond holds, for at most limit.
func waitScale(ctx context.Context, status *client.Client, limit time.Duration, cond func(client.ScaleStatus) bool) (client.ScaleStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		s, err := status.Scale(ctx)
		if err == nil && s.Scaling != "on" {
			return s, fmt.Errorf("the stack's scaling is %q: the burst scenario needs ORDERSAGA_SCALING=on", s.Scaling)
		}
		if err == nil && cond(s) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// pollPeaks polls the scaling status until ctx ends and returns each function's most instances.
func pollPeaks(ctx context.Context, status *client.Client) map[string]int {
	peaks := map[string]int{}
	for {
		if s, err := status.Scale(ctx); err == nil {
			for _, f := range s.Functions {
				peaks[f.Name] = max(peaks[f.Name], f.Instances+f.Draining)
			}
		}
		select {
		case <-ctx.Done():
			return peaks
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (r BurstResult) String() string {
	names := make([]string, 0, len(r.PeakInstances))
	for name := range r.PeakInstances {
		names = append(names, name)
	}
	sort.Strings(names)
	var peaks []string
	for _, name := range names {
		peaks = append(peaks, fmt.Sprintf("%s %d (%d cold starts)", name, r.PeakInstances[name], r.ColdStarts[name]))
	}
	return fmt.Sprintf("burst      %d orders from zero, %d clients: %d completed, %d cancelled, %d lost, %d failed posts; idle to zero %.1f s; "+
		"first terminal %.2f s, all terminal %.2f s; peak instances: %s; drained %.1f s and back to zero %.1f s after the last order",
		r.Orders, r.Clients, r.Completed, r.Cancelled, r.Lost, r.FailedPosts, r.IdleToZeroS, r.FirstTerminalS, r.AllTerminalS,
		strings.Join(peaks, ", "), r.DrainS, r.BackToZeroS)
}
