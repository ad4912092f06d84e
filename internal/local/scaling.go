package local

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/serving/pkg/autoscaler/aggregation"
	"knative.dev/serving/pkg/autoscaler/metrics"
	"knative.dev/serving/pkg/autoscaler/scaling"

	"github.com/ordersaga/ordersaga/internal/manifests"
)

// ScalingConfig shortens Knative's autoscaling windows for every function (tests and demos); a
// zero field keeps what config/ and Knative's defaults say.
type ScalingConfig struct {
	// StableWindow replaces every Service's stable window (Knative: 60 s; the panic window
	// keeps its percentage of it).
	StableWindow time.Duration `envconfig:"WINDOW"`
	// ScaleToZeroGrace replaces Knative's scale-to-zero grace period (30 s).
	ScaleToZeroGrace time.Duration `envconfig:"TO_ZERO_GRACE"`
	// Target replaces every Service's target as the decider uses it: requests in flight (or
	// per second) per instance, after the target utilization (70 %) is applied.
	Target float64 `envconfig:"TARGET"`
}

// validate reports an override that cannot mean anything, naming its variable. Zero keeps
// Knative's value.
func (c ScalingConfig) validate() error {
	switch {
	case c.StableWindow != 0 && c.StableWindow < time.Second:
		return fmt.Errorf("ORDERSAGA_SCALE_WINDOW must be at least 1s (the autoscaler decides once a second), not %s", c.StableWindow)
	case c.ScaleToZeroGrace < 0:
		return fmt.Errorf("ORDERSAGA_SCALE_TO_ZERO_GRACE must not be negative, not %s", c.ScaleToZeroGrace)
	case math.IsNaN(c.Target) || math.IsInf(c.Target, 0) || c.Target < 0:
		return fmt.Errorf("ORDERSAGA_SCALE_TARGET must be a positive number, not %v", c.Target)
	}
	return nil
}

// quietLogger is the decider's logger: the stack logs the decisions itself (scaleTo).
var quietLogger = zap.NewNop().Sugar()

// scaleTick is how often each function's autoscaler samples the activator and decides: once a
// second, the granularity of Knative's metric buckets (each bucket holds one sample, as the
// queue-proxy reports one a second; Knative's decider itself runs every 2 s).
const scaleTick = time.Second

// instanceDBConns is each scaled instance's PostgreSQL pool: six functions of up to 37
// instances in all (max-scale), plus instances draining while new ones start, must fit in the
// server's connections (100 by default).
const instanceDBConns = 2

// drainLimit bounds a draining instance's wait for its requests: the Services' timeoutSeconds.
const drainLimit = 30 * time.Second

// Instance states: starting (not yet ready: gets nothing), ready (gets requests), draining
// (chosen for removal: gets nothing new, finishes what it has, then stops).
const (
	instanceStarting int32 = iota
	instanceReady
	instanceDraining
)

// instance is one process of a scaled function, on its own socket.
type instance struct {
	proc     *process
	proxy    *httputil.ReverseProxy
	state    atomic.Int32
	inFlight atomic.Int64
	started  time.Time
	stop     context.CancelFunc
	exited   chan struct{}
}

// scaledFunction is a function run as Knative Serving runs a Service: between min-scale and
// max-scale instances, as many as Knative's own decider (the KPA's) asks for from what the
// activator measures, to zero when idle and back on the first request.
type scaledFunction struct {
	name, bin string
	env       []string
	spec      scaleSpec
	log       io.Writer // the instances' output; os.Stderr when nil
	url       string    // the activator's: the function's one address

	act     *activator
	windows *metricWindows
	decider scaling.UniScaler
	wakec   chan struct{}
	wg      sync.WaitGroup // the instances' supervisors

	mu       sync.Mutex
	live     []*instance // starting and ready, not draining
	draining int
	nextID   int
	// activeSince is when f last went from zero to an instance; zeroSince when, active long
	// enough, the decider first wanted none (while it still does).
	activeSince, zeroSince time.Time
	stats                  scaleStats
}

// scaleStats is what ordersctl top shows of a function besides its requests.
type scaleStats struct {
	desired       int32
	stable, panic float64
	coldStarts    int
	lastColdStart time.Duration
	rps           float64
	lastDecision  string
	peakInstances int
}

func newScaledFunction(name, bin string, spec scaleSpec) *scaledFunction {
	f := &scaledFunction{name: name, bin: bin, spec: spec, wakec: make(chan struct{}, 1)}
	f.act = newActivator(name, spec.ContainerConcurrency, f.wake)
	f.windows = newMetricWindows(spec)
	f.decider = scaling.New(attribute.NewSet(), noop.NewMeterProvider(), "ordersaga", name, f.windows, readyCounter{f}, &f.spec.Decider)
	return f
}

// wake asks for an instance at once (a request waits at zero), not at the next tick.
func (f *scaledFunction) wake() {
	select {
	case f.wakec <- struct{}{}:
	default:
	}
}

// run scales f until ctx ends, then waits for its instances to stop.
func (f *scaledFunction) run(ctx context.Context) error {
	defer f.wg.Wait()
	defer f.act.stop() // requests still waiting get 503 at once: no instance will come
	initial := max(f.spec.Decider.InitialScale, f.spec.Min)
	if f.spec.Max > 0 {
		initial = min(initial, f.spec.Max)
	}
	f.scaleTo(ctx, int(initial), "initial scale")
	ticker := time.NewTicker(scaleTick)
	defer ticker.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-f.wakec:
			if f.count() == 0 {
				f.scaleTo(ctx, 1, "a request is waiting at zero")
			}
		case now := <-ticker.C:
			concurrency, rps := f.act.metrics.sample(now, last)
			last = now
			f.windows.record(now, concurrency, rps)
			f.mu.Lock()
			f.stats.rps = rps
			f.mu.Unlock()
			f.decide(ctx, now)
		}
	}
}

// decide runs Knative's decider and applies its answer as the KPA reconciler does: within
// min-scale and max-scale, and to zero only after the grace period (or the Service's retention).
func (f *scaledFunction) decide(ctx context.Context, now time.Time) {
	result := f.decider.Scale(quietLogger, now)
	if !result.ScaleValid {
		return
	}
	desired := max(result.DesiredPodCount, f.spec.Min)
	if f.spec.Max > 0 {
		desired = min(desired, f.spec.Max)
	}
	if desired == 0 && f.act.metrics.current() > 0 {
		desired = 1 // a request is waiting: never take its instance away
	}
	stable, panicValue := f.windows.last()
	current := f.count()
	f.mu.Lock()
	f.stats.desired, f.stats.stable, f.stats.panic = desired, stable, panicValue
	// The KPA's way to zero: the function must have been active for a stable window (a fresh
	// start is not taken away at once), then inactive for the grace period (or retention).
	switch {
	case desired > 0 || current == 0 || now.Sub(f.activeSince) < f.spec.Decider.StableWindow:
		f.zeroSince = time.Time{}
	case f.zeroSince.IsZero():
		f.zeroSince = now
	}
	waitingForZero := desired == 0 && current > 0 && (f.zeroSince.IsZero() || now.Sub(f.zeroSince) < f.spec.ToZeroAfter())
	f.mu.Unlock()
	if waitingForZero {
		return
	}
	if int(desired) != current {
		f.scaleTo(ctx, int(desired), fmt.Sprintf("%s stable %.2f panic %.2f, target %.2f per instance",
			f.spec.Decider.ScalingMetric, stable, panicValue, f.spec.Decider.TargetValue))
	}
}

// count is the number of instances starting or ready.
func (f *scaledFunction) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.live)
}

// scaleTo starts or drains instances until want are starting or ready, and logs the decision.
func (f *scaledFunction) scaleTo(ctx context.Context, want int, reason string) {
	f.mu.Lock()
	from := len(f.live)
	f.stats.lastDecision = fmt.Sprintf("%s %d -> %d: %s", time.Now().Format(time.TimeOnly), from, want, reason)
	f.mu.Unlock()
	slog.Info("scale", "function", f.name, "from", from, "to", want, "reason", reason)
	for i := from; i < want; i++ {
		if err := f.startInstance(ctx); err != nil {
			slog.Error("scale: cannot start an instance", "function", f.name, "err", err)
			return
		}
	}
	for i := want; i < from; i++ {
		f.drainOne()
	}
}

// startInstance starts one more instance; the activator sends it requests once it is ready.
func (f *scaledFunction) startInstance(ctx context.Context) error {
	f.mu.Lock()
	f.nextID++
	id := f.nextID
	f.mu.Unlock()
	p, err := newProcess(fmt.Sprintf("%s-%d", f.name, id), f.bin)
	if err != nil {
		return err
	}
	// Clipped: each instance appends its own PORT to it, never into a shared array.
	p.env, p.log = slices.Clip(f.env), f.log
	ictx, stop := context.WithCancel(ctx)
	in := &instance{proc: p, proxy: newInstanceProxy(f.name, p.url()), started: time.Now(), stop: stop, exited: make(chan struct{})}
	// A crashed instance gets no requests until its restart is ready again, as Knative takes a
	// pod out of its endpoints while its readiness probe fails.
	p.restarted = func() {
		if in.state.CompareAndSwap(instanceReady, instanceStarting) {
			go func() {
				if p.waitReady(ictx) == nil && in.state.CompareAndSwap(instanceStarting, instanceReady) {
					slog.Info("scale: instance ready again after a restart", "function", f.name, "instance", p.name)
					f.act.notify()
				}
			}()
		}
	}
	f.mu.Lock()
	if len(f.live) == 0 {
		f.activeSince = time.Now()
	}
	f.live = append(f.live, in)
	f.stats.peakInstances = max(f.stats.peakInstances, len(f.live))
	f.mu.Unlock()
	f.act.add(in)
	var supervisor sync.WaitGroup
	supervisor.Add(1)
	go p.supervise(ictx, &supervisor)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		supervisor.Wait()
		p.close()
		close(in.exited)
	}()
	go func() {
		if err := p.waitReady(ictx); err != nil {
			return // stopped before it was ready
		}
		if !in.state.CompareAndSwap(instanceStarting, instanceReady) {
			return // drained while starting
		}
		coldStart := time.Since(in.started)
		f.mu.Lock()
		f.stats.coldStarts++
		f.stats.lastColdStart = coldStart
		f.mu.Unlock()
		slog.Info("scale: instance ready", "function", f.name, "instance", p.name, "cold_start_ms", coldStart.Milliseconds())
		f.act.notify()
	}()
	return nil
}

// drainOne chooses the instance with the fewest requests in flight (a starting one first) and
// drains it: nothing new reaches it, it finishes what it has, then it stops with SIGTERM.
func (f *scaledFunction) drainOne() {
	f.mu.Lock()
	if len(f.live) == 0 {
		f.mu.Unlock()
		return
	}
	sort.SliceStable(f.live, func(i, j int) bool {
		si, sj := f.live[i].state.Load(), f.live[j].state.Load()
		if si != sj {
			return si == instanceStarting
		}
		return f.live[i].inFlight.Load() < f.live[j].inFlight.Load()
	})
	in := f.live[0]
	f.live = f.live[1:]
	f.draining++
	f.mu.Unlock()
	f.act.retire(in)
	go func() {
		began := time.Now()
		for in.inFlight.Load() > 0 && time.Since(began) < drainLimit {
			time.Sleep(10 * time.Millisecond)
		}
		in.stop()
		<-in.exited
		f.act.remove(in)
		f.mu.Lock()
		f.draining--
		f.mu.Unlock()
		slog.Info("scale: instance drained", "function", f.name, "instance", in.proc.name, "drain_ms", time.Since(began).Milliseconds())
	}()
}

// waitReady waits until f has a ready instance.
func (f *scaledFunction) waitReady(ctx context.Context) error {
	for {
		if f.readyCount() > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready: %w", f.name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// readyCount is the number of instances receiving requests.
func (f *scaledFunction) readyCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, in := range f.live {
		if in.state.Load() == instanceReady {
			n++
		}
	}
	return n
}

// signal sends sig to one running instance (chaos and tests: a crashing pod).
func (f *scaledFunction) signal(sig os.Signal) error {
	f.mu.Lock()
	live := append([]*instance(nil), f.live...)
	f.mu.Unlock()
	for _, in := range live {
		if err := in.proc.Signal(sig); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s has no running instance", f.name)
}

// readyCounter is the decider's view of f's pods: its ready instances.
type readyCounter struct{ f *scaledFunction }

func (c readyCounter) ReadyCount() (int, error) { return c.f.readyCount(), nil }

// NotReadyCount is the instances starting or draining.
func (c readyCounter) NotReadyCount() (int, error) {
	ready := c.f.readyCount()
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	return max(0, len(c.f.live)-ready) + c.f.draining, nil
}

// metricWindows is the metric client the decider reads: the activator's samples averaged over
// the stable and the panic windows, with Knative's own bucketing.
type metricWindows struct {
	stableC, panicC, stableR, panicR *aggregation.TimedFloat64Buckets

	mu                 sync.Mutex
	lastStable, lastPa float64
	metric             string
}

func newMetricWindows(spec scaleSpec) *metricWindows {
	tick := scaleTick
	panicWindow := max(spec.PanicWindow, tick)
	return &metricWindows{
		stableC: aggregation.NewTimedFloat64Buckets(spec.Decider.StableWindow, tick),
		panicC:  aggregation.NewTimedFloat64Buckets(panicWindow, tick),
		stableR: aggregation.NewTimedFloat64Buckets(spec.Decider.StableWindow, tick),
		panicR:  aggregation.NewTimedFloat64Buckets(panicWindow, tick),
		metric:  spec.Decider.ScalingMetric,
	}
}

func (w *metricWindows) record(now time.Time, concurrency, rps float64) {
	w.stableC.Record(now, concurrency)
	w.panicC.Record(now, concurrency)
	w.stableR.Record(now, rps)
	w.panicR.Record(now, rps)
}

func (w *metricWindows) StableAndPanicConcurrency(_ types.NamespacedName, now time.Time) (float64, float64, error) {
	return w.averages(now, w.stableC, w.panicC)
}

func (w *metricWindows) StableAndPanicRPS(_ types.NamespacedName, now time.Time) (float64, float64, error) {
	return w.averages(now, w.stableR, w.panicR)
}

func (w *metricWindows) averages(now time.Time, stable, panicWindow *aggregation.TimedFloat64Buckets) (float64, float64, error) {
	if stable.IsEmpty(now) {
		return 0, 0, metrics.ErrNoData
	}
	s, p := stable.WindowAverage(now), panicWindow.WindowAverage(now)
	w.mu.Lock()
	w.lastStable, w.lastPa = s, p
	w.mu.Unlock()
	return s, p, nil
}

// last is what the decider read last: the stable and panic values of the scaling metric.
func (w *metricWindows) last() (stable, panicValue float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastStable, w.lastPa
}

// addScaledFunctions sets up every function of bins to scale: its spec from config/, its
// activator serving on a port of its own (the function's URL in urls).
func (s *Stack) addScaledFunctions(ctx context.Context, cfg Config, set *manifests.Set, bins map[string]string, urls map[string]string) error {
	defaults, err := manifests.KnativeAutoscalerDefaults()
	if err != nil {
		return err
	}
	for _, svc := range set.Services {
		bin, ok := bins[svc.Name]
		if !ok {
			continue
		}
		spec, err := manifests.ServiceAutoscaling(svc, defaults)
		if err != nil {
			return err
		}
		f := newScaledFunction(svc.Name, bin, withOverrides(spec, cfg.Scale))
		if f.url, err = s.serve(ctx, "127.0.0.1:0", f.act); err != nil {
			return err
		}
		s.scaled[svc.Name], urls[svc.Name] = f, f.url
	}
	return nil
}

// instancePool limits one instance's PostgreSQL pool (pgx's pool_max_conns) to instanceDBConns.
func instancePool(databaseURL string) string {
	if databaseURL == "" {
		return ""
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return databaseURL // the function reports it
	}
	q := u.Query()
	q.Set("pool_max_conns", strconv.Itoa(instanceDBConns))
	u.RawQuery = q.Encode()
	return u.String()
}
