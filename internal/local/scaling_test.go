package local

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/manifests"
)

// shortWindows scales in seconds rather than minutes: Knative's algorithm with a 2 s stable
// window, a 1 s grace period and a target of 2 requests in flight per instance.
var shortWindows = ScalingConfig{StableWindow: 2 * time.Second, ScaleToZeroGrace: time.Second, Target: 2}

// startHello runs this test binary's hello function scaled between 0 and maxScale instances
// behind its activator (with env added to its environment), and returns it with the
// activator's URL. A containerConcurrency comes in as HELLO_MAX_IN_FLIGHT=n.
func startHello(t *testing.T, maxScale int32, env ...string) (*scaledFunction, string) {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	defaults, err := manifests.KnativeAutoscalerDefaults()
	if err != nil {
		t.Fatal(err)
	}
	spec := scaleSpec{Max: maxScale, ScaleToZeroGrace: defaults.ScaleToZeroGracePeriod, PanicWindow: 6 * time.Second}
	for _, e := range env {
		if n, ok := strings.CutPrefix(e, "HELLO_MAX_IN_FLIGHT="); ok {
			spec.ContainerConcurrency, _ = strconv.ParseInt(n, 10, 64)
		}
	}
	spec.Decider.StableWindow, spec.Decider.ScalingMetric = 60*time.Second, "concurrency"
	spec.Decider.MaxScaleUpRate, spec.Decider.MaxScaleDownRate = defaults.MaxScaleUpRate, defaults.MaxScaleDownRate
	spec.Decider.PanicThreshold, spec.Decider.InitialScale, spec.Decider.Reachable = 2, 1, true
	spec = withOverrides(spec, shortWindows)
	f := newScaledFunction("hello", bin, spec)
	f.env = append([]string{helperFunctionEnv + "=1"}, env...)
	f.log = io.Discard
	srv := httptest.NewServer(f.act)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	waitFor(t, "the initial instance", func() bool { return f.readyCount() > 0 })
	return f, srv.URL
}

// waitFor polls cond until it holds; reaching waitLimit fails the test (a hang, not a speed).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", waitLimit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// burst sends n requests to url at once and returns how many were not 200 "hello".
func burst(t *testing.T, url string, n int) int {
	t.Helper()
	client := &http.Client{Timeout: waitLimit}
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(url)
			ok := err == nil
			if ok {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				ok = resp.StatusCode == http.StatusOK && string(body) == "hello"
			}
			if !ok {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// An idle function goes to zero instances; requests arriving then wait for a cold start
// instead of failing.
func TestRequestsAtZeroWaitForAColdStart(t *testing.T) {
	f, url := startHello(t, 3)
	waitFor(t, "the idle function to reach zero", func() bool { return f.count() == 0 && f.act.instanceCount() == 0 })
	coldStarts := f.status().ColdStarts
	if failed := burst(t, url+"/hello", 10); failed != 0 {
		t.Fatalf("%d of 10 requests sent at zero failed", failed)
	}
	if got := f.status().ColdStarts; got <= coldStarts {
		t.Fatalf("cold starts %d, want more than %d: the requests did not start an instance", got, coldStarts)
	}
}

// A burst takes the function from zero to several instances, every request is answered, and
// once idle it drains back to zero.
func TestBurstScalesFromZeroToSeveralAndBack(t *testing.T) {
	f, url := startHello(t, 4)
	waitFor(t, "the idle function to reach zero", func() bool { return f.count() == 0 })
	// Thirty waves (at least 3 s), so that the autoscaler sees the load over several ticks.
	for wave := range 30 {
		if failed := burst(t, url+"/slow", 40); failed != 0 {
			t.Fatalf("wave %d: %d of 40 requests failed", wave, failed)
		}
	}
	st := f.status()
	if st.PeakInstances < 2 {
		t.Fatalf("peak instances %d under 1,200 requests with a target of 2 in flight: the burst did not scale out", st.PeakInstances)
	}
	if st.PeakInstances > 4 {
		t.Fatalf("peak instances %d, above max-scale 4", st.PeakInstances)
	}
	waitFor(t, "the function to return to zero", func() bool { return f.count() == 0 && f.act.instanceCount() == 0 })
}

// An instance killed during a burst loses its requests in flight (502: the caller retries, as
// after losing a pod); the function keeps serving and the others are answered.
func TestBurstSurvivesAnInstanceCrash(t *testing.T) {
	f, url := startHello(t, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(50 * time.Millisecond)
		if err := f.signal(os.Kill); err != nil {
			t.Errorf("kill: %v", err)
		}
	}()
	failed := burst(t, url+"/slow", 100)
	wg.Wait()
	if failed == 100 {
		t.Fatal("every request failed after one instance was killed")
	}
	// After the crash, the function serves again (the killed instance restarts, as a pod's
	// container does).
	if again := burst(t, url+"/hello", 20); again != 0 {
		t.Fatalf("%d of 20 requests after the crash failed", again)
	}
}

// The activator never gives an instance more than containerConcurrency requests at once: the
// rest wait for room (or for another instance), and every one is answered.
func TestActivatorKeepsToContainerConcurrency(t *testing.T) {
	_, url := startHello(t, 1, "HELLO_MAX_IN_FLIGHT=2")
	if failed := burst(t, url+"/slow", 30); failed != 0 {
		t.Fatalf("%d of 30 requests failed: an instance got more than containerConcurrency 2 at once", failed)
	}
}

// A scaling mode that is neither on nor off is refused before anything starts.
func TestStartRefusesAnUnknownScalingMode(t *testing.T) {
	_, err := Start(context.Background(), Config{Root: moduleRoot(t), DataDir: t.TempDir(), Scaling: "yes"})
	if err == nil || !strings.Contains(err.Error(), "ORDERSAGA_SCALING is on or off") {
		t.Fatalf("Start with Scaling yes: %v", err)
	}
}
