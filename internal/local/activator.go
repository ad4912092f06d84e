package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// activator is the one address of a scaled function, as Knative's activator and the queue-proxy
// are on a cluster: it holds requests while the function has no ready instance (a cold start
// from zero), sends each request to the ready instance with the fewest in flight, and measures
// what the autoscaler decides on (requests in flight, waiting ones included, and arrivals).
type activator struct {
	name string
	// capacity is what one instance takes at once (containerConcurrency; 0: no limit): with
	// every ready instance full, a request waits here, as in Knative's activator, and counts
	// toward the concurrency the autoscaler scales on.
	capacity int64
	// wake asks the scaler for an instance now: a request is waiting and none is ready.
	wake func()

	stopped  chan struct{} // closed when the function stops scaling (the stack stops)
	stopOnce sync.Once

	mu        sync.Mutex
	instances []*instance     // ready ones receive requests; see instance.state
	changed   chan struct{}   // closed and replaced when an instance becomes ready or has room again
	metrics   *requestMetrics // in flight and arrivals, for the autoscaler and ordersctl top
}

func newActivator(name string, capacity int64, wake func()) *activator {
	return &activator{name: name, capacity: capacity, wake: wake, changed: make(chan struct{}), metrics: newRequestMetrics(),
		stopped: make(chan struct{})}
}

// stop releases every waiting request, and any later one, with 503.
func (a *activator) stop() { a.stopOnce.Do(func() { close(a.stopped) }) }

// errStopped is pick's answer once the function no longer scales (the stack stops).
var errStopped = errors.New("the function has stopped")

// activationTimeout bounds how long a request waits for an instance (a cold start, or room on a
// full one) before it gets 503, which a Trigger retries: a function that cannot start (it
// crashes at once) must not hold its callers, and count as their load, for ever. Knative's
// activator bounds the wait likewise, by the revision's timeout.
const activationTimeout = 30 * time.Second

// maxHeldBody is the largest request body the activator holds while the request waits: far
// above what the gateway (64 KiB) and the broker ingress let through.
const maxHeldBody = 8 << 20

func (a *activator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	started := a.metrics.begin()
	defer func() { a.metrics.end(started) }()
	// The body is read before waiting: Go's server sees a client leave only once the body has
	// been read, so a held POST (every event delivery) would otherwise wait on for a caller long
	// gone, and count as load.
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHeldBody))
		if err != nil {
			httpapi.WriteJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "request body unreadable or over 8 MiB"})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	ctx, cancel := context.WithTimeout(r.Context(), activationTimeout)
	in, err := a.pick(ctx)
	cancel()
	if err != nil {
		// The client gave up, no instance was free within activationTimeout, or the stack stops.
		w.Header().Set("Retry-After", "1")
		httpapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": a.name + " had no instance free in time"})
		return
	}
	defer a.release(in)
	in.proxy.ServeHTTP(w, r)
}

// pick returns the ready instance with the fewest requests in flight, counting the request in;
// with none ready it wakes the scaler and waits for one (the hold of a cold start), and with
// every ready one at capacity it waits for room.
func (a *activator) pick(ctx context.Context) (*instance, error) {
	for {
		a.mu.Lock()
		var best *instance
		for _, in := range a.instances {
			if in.state.Load() == instanceReady && (best == nil || in.inFlight.Load() < best.inFlight.Load()) {
				best = in
			}
		}
		if best != nil && (a.capacity == 0 || best.inFlight.Load() < a.capacity) {
			best.inFlight.Add(1)
			a.mu.Unlock()
			return best, nil
		}
		changed := a.changed
		a.mu.Unlock()
		if best == nil {
			a.wake()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-a.stopped:
			return nil, errStopped
		case <-changed:
		}
	}
}

// add puts in among the instances; it receives requests once it is ready.
func (a *activator) add(in *instance) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.instances = append(a.instances, in)
}

// remove takes in out of the instances for good.
func (a *activator) remove(in *instance) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, x := range a.instances {
		if x == in {
			a.instances = append(a.instances[:i], a.instances[i+1:]...)
			break
		}
	}
}

// release counts a request of in as done; a full instance that now has room wakes the waiting.
func (a *activator) release(in *instance) {
	if in.inFlight.Add(-1) == a.capacity-1 && a.capacity > 0 {
		a.notify()
	}
}

// notify wakes the requests waiting for an instance: one just became ready, or has room again.
func (a *activator) notify() {
	a.mu.Lock()
	defer a.mu.Unlock()
	close(a.changed)
	a.changed = make(chan struct{})
}

// newInstanceProxy forwards to one instance as it is, with the client's X-Forwarded-For kept
// (the gateway set it; the user function's login limits depend on it).
func newInstanceProxy(name, base string) *httputil.ReverseProxy {
	target, _ := url.Parse(base)
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			if xff := pr.In.Header.Values("X-Forwarded-For"); len(xff) > 0 {
				pr.Out.Header["X-Forwarded-For"] = xff
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The instance died under the request (a crash): the caller retries, as it would
			// after losing a pod.
			slog.Warn("activator: instance failed a request", "function", name, "err", err)
			httpapi.WriteJSON(w, http.StatusBadGateway, map[string]string{"error": name + " failed the request"})
		},
	}
}

// requestMetrics counts a function's requests: in flight now (waiting ones included), the
// time-weighted in-flight average and the arrivals between two samples (what Knative's
// queue-proxy reports), and the latencies of the latest requests.
type requestMetrics struct {
	mu         sync.Mutex
	inFlight   int
	area       float64 // in-flight × seconds since the last sample
	lastChange time.Time
	arrivals   int
	total      atomic.Int64
	latencies  [1024]time.Duration // a ring of the latest
	next       int
	count      int
}

func newRequestMetrics() *requestMetrics { return &requestMetrics{lastChange: time.Now()} }

func (m *requestMetrics) begin() time.Time {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(now)
	m.inFlight++
	m.arrivals++
	m.total.Add(1)
	return now
}

func (m *requestMetrics) end(started time.Time) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(now)
	m.inFlight--
	m.latencies[m.next] = now.Sub(started)
	m.next = (m.next + 1) % len(m.latencies)
	m.count = min(m.count+1, len(m.latencies))
}

func (m *requestMetrics) advance(now time.Time) {
	m.area += float64(m.inFlight) * now.Sub(m.lastChange).Seconds()
	m.lastChange = now
}

// sample returns the average concurrency and the request rate since the previous sample.
func (m *requestMetrics) sample(now time.Time, since time.Time) (concurrency, rps float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(now)
	elapsed := now.Sub(since).Seconds()
	if elapsed <= 0 {
		return float64(m.inFlight), 0
	}
	concurrency, rps = m.area/elapsed, float64(m.arrivals)/elapsed
	m.area, m.arrivals = 0, 0
	return concurrency, rps
}

// current is the number of requests in flight now, waiting ones included.
func (m *requestMetrics) current() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inFlight
}

// latencyQuantiles returns the p50 and p99 of the latest requests.
func (m *requestMetrics) latencyQuantiles() (p50, p99 time.Duration) {
	m.mu.Lock()
	recent := append([]time.Duration(nil), m.latencies[:m.count]...)
	m.mu.Unlock()
	return quantile(recent, 0.50), quantile(recent, 0.99)
}

// retire stops sending requests to in: from now on it is draining. Under the lock, so that a
// request being placed either counted itself on in before or will not choose it.
func (a *activator) retire(in *instance) {
	a.mu.Lock()
	defer a.mu.Unlock()
	in.state.Store(instanceDraining)
}

// quantile returns the q quantile of durations (nearest rank); 0 for none.
func quantile(durations []time.Duration, q float64) time.Duration {
	if len(durations) == 0 {
		return 0
	}
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	return durations[min(len(durations)-1, int(q*float64(len(durations))))]
}

// instanceCount is the number of instances the activator knows, draining ones included.
func (a *activator) instanceCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.instances)
}
