package local

import (
	"context"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// triggerGroupName is one Trigger's consumer group, whose lag ordersctl top shows.
type triggerGroupName struct {
	trigger, subscriber, group string
}

// withScaleStatus serves the scaling status (client.ScalePath) beside the gateway, to loopback
// clients only: it is the stack's, not the REST API's.
func (s *Stack) withScaleStatus(gateway http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != client.ScalePath {
			gateway.ServeHTTP(w, r)
			return
		}
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err != nil || !net.ParseIP(host).IsLoopback() {
			httpapi.WriteJSON(w, http.StatusForbidden, map[string]string{"error": "the scaling status is for this machine only"})
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			httpapi.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "GET only"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		httpapi.WriteJSON(w, http.StatusOK, s.ScaleStatus(ctx))
	})
}

// ScaleStatus reports every function's instances and requests and every Trigger's lag.
func (s *Stack) ScaleStatus(ctx context.Context) client.ScaleStatus {
	status := client.ScaleStatus{Scaling: "off", Functions: []client.FunctionScale{}, Triggers: s.triggerLags(ctx)}
	if len(s.scaled) > 0 {
		status.Scaling = "on"
	}
	for _, f := range s.scaled {
		status.Functions = append(status.Functions, f.status())
	}
	for name := range s.procs {
		status.Functions = append(status.Functions, client.FunctionScale{Name: name, Instances: 1, Ready: 1, Desired: 1, Min: 1, Max: 1, PeakInstances: 1})
	}
	sort.Slice(status.Functions, func(i, j int) bool { return status.Functions[i].Name < status.Functions[j].Name })
	return status
}

// status is f's line of the scaling status.
func (f *scaledFunction) status() client.FunctionScale {
	p50, p99 := f.act.metrics.latencyQuantiles()
	ready := f.readyCount()
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.FunctionScale{
		Name: f.name, Instances: len(f.live), Ready: ready, Draining: f.draining,
		Desired: f.stats.desired, Min: f.spec.Min, Max: f.spec.Max,
		Metric: f.spec.Decider.ScalingMetric, Target: f.spec.Decider.TargetValue,
		Stable: f.stats.stable, Panic: f.stats.panic,
		InFlight: f.act.metrics.current(), Requests: f.act.metrics.total.Load(), RequestsPerS: f.stats.rps,
		P50Millis: millis(p50), P99Millis: millis(p99),
		ColdStarts: f.stats.coldStarts, LastColdStart: millis(f.stats.lastColdStart),
		PeakInstances: f.stats.peakInstances, LastDecision: f.stats.lastDecision,
	}
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// triggerLags is each Trigger's consumer-group lag on the broker topic (-1 when Kafka does not
// answer). One admin client serves every call, and an answer is reused for lagFresh: the bench
// and `ordersctl top --watch` ask several times a second, and each answer costs Kafka a
// describe and an offset fetch per group.
func (s *Stack) triggerLags(ctx context.Context) []client.TriggerLag {
	byGroup := s.groupLags(ctx)
	lags := make([]client.TriggerLag, 0, len(s.triggerGroups))
	for _, g := range s.triggerGroups {
		lag, ok := byGroup[g.group]
		if !ok {
			lag = -1
		}
		lags = append(lags, client.TriggerLag{Name: g.trigger, Subscriber: g.subscriber, Lag: lag})
	}
	return lags
}

// lagFresh is how long a lag answer is reused.
const lagFresh = time.Second

// lagCache is the Trigger groups' last lag answer and the admin client that got it.
type lagCache struct {
	mu      sync.Mutex
	admin   *kadm.Client
	at      time.Time
	byGroup map[string]int64
}

func (s *Stack) groupLags(ctx context.Context) map[string]int64 {
	c := &s.lags
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < lagFresh {
		return c.byGroup
	}
	if c.admin == nil {
		cl, err := s.kafkaAs(principalBroker).NewClient()
		if err != nil {
			return nil
		}
		c.admin = kadm.NewClient(cl)
	}
	groups := make([]string, 0, len(s.triggerGroups))
	for _, g := range s.triggerGroups {
		groups = append(groups, g.group)
	}
	described, err := c.admin.Lag(ctx, groups...)
	if err != nil {
		return nil // not kept: the next call asks again
	}
	c.byGroup = map[string]int64{}
	for group, l := range described {
		if l.Error() == nil {
			c.byGroup[group] = l.Lag.Total()
		}
	}
	c.at = time.Now()
	return c.byGroup
}

// close closes the admin client, once the stack stops.
func (c *lagCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.admin != nil {
		c.admin.Close()
		c.admin = nil
	}
}
