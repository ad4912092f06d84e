package manifests_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ordersaga/ordersaga/internal/manifests"
)

// The autoscaling annotations of every Service agree with each other and with the topic, as
// Knative's autoscaler reads them (manifests.ServiceAutoscaling, what the local stack scales by).
func TestAutoscalingIsConsistent(t *testing.T) {
	set := load(t)
	defaults, err := manifests.KnativeAutoscalerDefaults()
	if err != nil {
		t.Fatal(err)
	}
	partitions := brokerPartitions(t, set)
	for _, svc := range set.Services {
		a, err := manifests.ServiceAutoscaling(svc, defaults)
		if err != nil {
			t.Errorf("Service %s: %v", svc.Name, err)
			continue
		}
		// Scale to zero is the design: every function idles at no pod.
		if a.Min != 0 {
			t.Errorf("Service %s: min-scale %d, want 0 (scale to zero)", svc.Name, a.Min)
		}
		// A bound, and no more pods than partitions: with ordered delivery a Trigger never has
		// more events in flight than partitions, and unordered ones still read per partition.
		if a.Max < 1 || a.Max > int32(partitions) {
			t.Errorf("Service %s: max-scale %d, want 1 to the broker topic's %d partitions", svc.Name, a.Max, partitions)
		}
		// The target is a share of what a pod takes: at containerConcurrency a pod refuses more,
		// so a target at or above it would never scale out before requests queue.
		if a.Decider.ScalingMetric == "concurrency" {
			target, err := strconv.ParseFloat(svc.Spec.Template.Annotations["autoscaling.knative.dev/target"], 64)
			if err != nil {
				t.Errorf("Service %s: concurrency target not set: %v", svc.Name, err)
			} else if a.ContainerConcurrency == 0 || target >= float64(a.ContainerConcurrency) {
				t.Errorf("Service %s: target %g not below containerConcurrency %d", svc.Name, target, a.ContainerConcurrency)
			}
		}
		// Windows Knative accepts, and a way back to zero within minutes.
		if w := a.Decider.StableWindow; w < 6*time.Second || w > time.Hour {
			t.Errorf("Service %s: stable window %v outside Knative's 6s-1h", svc.Name, w)
		}
		if a.PanicWindow <= 0 || a.PanicWindow >= a.Decider.StableWindow {
			t.Errorf("Service %s: panic window %v not within the stable window %v", svc.Name, a.PanicWindow, a.Decider.StableWindow)
		}
		if d := a.Decider.ScaleDownDelay; d < 0 || d > time.Hour {
			t.Errorf("Service %s: scale-down delay %v outside 0-1h", svc.Name, d)
		}
		if z := a.ToZeroAfter(); z > 5*time.Minute {
			t.Errorf("Service %s: %v from idle to zero after the stable window: the scale-to-zero retention is too long", svc.Name, z)
		}
	}
}

// Periodic work must not keep a function from zero: between two pings, the function it wakes
// has time to scale back to zero (a stable window, then the grace period or retention).
func TestPingSourcesLetTheirFunctionReachZero(t *testing.T) {
	set := load(t)
	defaults, err := manifests.KnativeAutoscalerDefaults()
	if err != nil {
		t.Fatal(err)
	}
	services := map[string]manifests.Autoscaling{}
	for _, svc := range set.Services {
		if a, err := manifests.ServiceAutoscaling(svc, defaults); err == nil {
			services[svc.Name] = a
		}
	}
	if len(set.PingSources) == 0 {
		t.Fatal("no PingSource in config/")
	}
	for _, ps := range set.PingSources {
		schedule, err := cron.ParseStandard(ps.Spec.Schedule)
		if err != nil {
			t.Errorf("PingSource %s: schedule %q: %v", ps.Name, ps.Spec.Schedule, err)
			continue
		}
		ref := ps.Spec.Sink.Ref
		if ref == nil || ref.Kind != "Service" {
			t.Errorf("PingSource %s: sink is not a Service", ps.Name)
			continue
		}
		a, ok := services[ref.Name]
		if !ok {
			t.Errorf("PingSource %s: sink %s is not a Service of config/", ps.Name, ref.Name)
			continue
		}
		toZero := a.Decider.StableWindow + a.ToZeroAfter()
		// The shortest gap between two pings over a day.
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		shortest := 24 * time.Hour
		for next := schedule.Next(at); next.Before(at.Add(24 * time.Hour)); {
			after := schedule.Next(next)
			shortest = min(shortest, after.Sub(next))
			next = after
		}
		if shortest <= toZero {
			t.Errorf("PingSource %s pings %s every %v, but it needs %v idle to reach zero: it would never scale to zero",
				ps.Name, ref.Name, shortest, toZero)
		}
	}
}

// brokerPartitions is the broker topic's partitions (its ConfigMap's default.topic.partitions).
func brokerPartitions(t *testing.T, set *manifests.Set) int {
	t.Helper()
	for _, cm := range set.ConfigMaps {
		if v, ok := cm.Data["default.topic.partitions"]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("ConfigMap %s: default.topic.partitions %q", cm.Name, v)
			}
			return n
		}
	}
	t.Fatal("no broker ConfigMap with default.topic.partitions")
	return 0
}

// The gateway's GET /health/readiness asks every function behind it for its readiness: as the
// gateway's own readiness probe (every few seconds) it would keep those functions from zero.
func TestGatewayProbeDoesNotWakeTheFunctions(t *testing.T) {
	for _, svc := range load(t).Services {
		if svc.Name != "gateway" {
			continue
		}
		for _, c := range svc.Spec.Template.Spec.Containers {
			if p := c.ReadinessProbe; p != nil && p.HTTPGet != nil && p.HTTPGet.Path == "/health/readiness" {
				t.Errorf("the gateway's readiness probe is %s, which calls every function behind it", p.HTTPGet.Path)
			}
		}
		return
	}
	t.Fatal("no gateway Service in config/")
}
