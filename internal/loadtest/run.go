package loadtest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/events"
)

// Load is one benchmark run: Orders orders, either by Concurrency closed-loop workers (each
// places an order and waits for its saga to end before placing the next) or offered at Rate
// orders per second whatever the system does (open loop).
type Load struct {
	Name        string
	Orders      int
	Concurrency int
	Rate        float64
	// SKUs are the items orders are drawn from, one line of one unit each.
	SKUs []string
	// Timeout bounds how long one order may take to end before it counts as lost.
	Timeout time.Duration
}

// Latencies summarises end-to-end latencies in milliseconds.
type Latencies struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Result is what a run measured. Latency is from the 202 of POST /orders to the order's
// ORDER_COMPLETED or ORDER_CANCELLED on the broker topic.
type Result struct {
	Name        string  `json:"name"`
	Mode        string  `json:"mode"`
	Concurrency int     `json:"concurrency,omitempty"`
	OfferedRate float64 `json:"offered_rate_per_s,omitempty"`
	Orders      int     `json:"orders"`
	Completed   int     `json:"completed"`
	Cancelled   int     `json:"cancelled"`
	FailedPosts int     `json:"failed_posts"`
	Lost        int     `json:"lost"`
	DurationS   float64 `json:"duration_s"`
	// EndedPerS counts every order whose saga ended (completed or cancelled) per second of the
	// run; CompletedPerS only the completed ones.
	EndedPerS     float64   `json:"ended_orders_per_s"`
	CompletedPerS float64   `json:"completed_orders_per_s"`
	AcceptedPerS  float64   `json:"accepted_orders_per_s"`
	LatencyMS     Latencies `json:"latency_ms"`
	PostLatencyMS Latencies `json:"post_latency_ms"`
	FirstError    string    `json:"first_error,omitempty"`
}

type sample struct {
	posted, accepted time.Time
	ending           Ending
	err              error
	postFailed       bool
}

// Run drives load through c, watching endings with w.
func Run(ctx context.Context, c *client.Client, w *Watcher, load Load) Result {
	samples := make([]sample, load.Orders)
	one := func(i int) {
		s := &samples[i]
		lines := []client.Line{{SKU: load.SKUs[rand.IntN(len(load.SKUs))], Quantity: 1}}
		s.posted = time.Now()
		o, err := c.PlaceOrder(ctx, lines, "")
		s.accepted = time.Now()
		if err != nil {
			s.err, s.postFailed = fmt.Errorf("POST /orders: %w", err), true
			return
		}
		wctx, cancel := context.WithTimeout(ctx, load.Timeout)
		defer cancel()
		s.ending, s.err = w.Wait(wctx, o.ID)
	}
	start := time.Now()
	var wg sync.WaitGroup
	res := Result{Name: load.Name, Orders: load.Orders}
	if load.Rate > 0 {
		res.Mode, res.OfferedRate = "open loop, fixed offered rate", load.Rate
		interval := time.Duration(float64(time.Second) / load.Rate)
		for i := range load.Orders {
			// Scheduled from the start, so a late tick does not lower the offered rate.
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			wg.Add(1)
			go func() { defer wg.Done(); one(i) }()
		}
	} else {
		res.Mode, res.Concurrency = "closed loop, fixed concurrency", load.Concurrency
		next := make(chan int)
		for range load.Concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					one(i)
				}
			}()
		}
		for i := range load.Orders {
			next <- i
		}
		close(next)
	}
	wg.Wait()

	var e2e, post []float64
	end, lastAccepted := start, start
	for _, s := range samples {
		switch {
		case s.postFailed:
			res.FailedPosts++
		case s.err != nil:
			res.Lost++
		default:
			if s.ending.Type == events.OrderCompleted {
				res.Completed++
			} else {
				res.Cancelled++
			}
			e2e = append(e2e, ms(max(0, s.ending.At.Sub(s.accepted))))
			end = maxTime(end, s.ending.At)
		}
		if !s.postFailed {
			post = append(post, ms(s.accepted.Sub(s.posted)))
			lastAccepted = maxTime(lastAccepted, s.accepted)
		}
		if s.err != nil && res.FirstError == "" {
			res.FirstError = s.err.Error()
		}
	}
	d := end.Sub(start).Seconds()
	res.DurationS = Round(d, 3)
	if d > 0 {
		res.EndedPerS = Round(float64(res.Completed+res.Cancelled)/d, 1)
		res.CompletedPerS = Round(float64(res.Completed)/d, 1)
	}
	if d := lastAccepted.Sub(start).Seconds(); d > 0 {
		res.AcceptedPerS = Round(float64(len(post))/d, 1)
	}
	res.LatencyMS = summarise(e2e)
	res.PostLatencyMS = summarise(post)
	return res
}

func summarise(v []float64) Latencies {
	if len(v) == 0 {
		return Latencies{}
	}
	sort.Float64s(v)
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return Latencies{
		P50: Round(percentile(v, 50), 2), P95: Round(percentile(v, 95), 2), P99: Round(percentile(v, 99), 2),
		Max: Round(v[len(v)-1], 2), Mean: Round(sum/float64(len(v)), 2),
	}
}

// percentile is the nearest-rank percentile of sorted v.
func percentile(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Round rounds x to digits decimals, as every figure of a run is reported.
func Round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// String is the run in one line for people.
func (r Result) String() string {
	load := fmt.Sprintf("concurrency %d", r.Concurrency)
	if r.OfferedRate > 0 {
		load = fmt.Sprintf("%.0f orders/s offered", r.OfferedRate)
	}
	return fmt.Sprintf("%-10s %s: %d orders in %.1fs: %.1f ended/s (%.1f completed/s), %d completed, %d cancelled, %d failed posts, %d lost; "+
		"end-to-end ms p50 %.1f p95 %.1f p99 %.1f max %.1f; POST ms p50 %.1f p99 %.1f",
		r.Name, load, r.Orders, r.DurationS, r.EndedPerS, r.CompletedPerS, r.Completed, r.Cancelled, r.FailedPosts, r.Lost,
		r.LatencyMS.P50, r.LatencyMS.P95, r.LatencyMS.P99, r.LatencyMS.Max, r.PostLatencyMS.P50, r.PostLatencyMS.P99)
}
