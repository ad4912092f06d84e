package local

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ordersaga/ordersaga/internal/telemetry/telemetrytest"
)

// The stack's /metrics is every function's, each series labelled with its function, beside the
// data plane's deliveries; a function that does not answer is left out, not the whole scrape.
func TestStackMetricsGatherEveryFunction(t *testing.T) {
	fake := func(body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/metrics" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	const handled = "# TYPE ordersaga_events_handled_total counter\n"
	targets := []functionMetrics{
		{name: "inventory", url: fake(handled + `ordersaga_events_handled_total{type="ORDER_REQUESTED",outcome="ok"} 3` + "\n")},
		// Two instances of a scaled function: the same series, told apart by instance.
		{name: "payment", instance: "payment-1", url: fake(handled + `ordersaga_events_handled_total{type="INVENTORY_RESERVED",outcome="ok"} 2` + "\n")},
		{name: "payment", instance: "payment-2", url: fake(handled + `ordersaga_events_handled_total{type="INVENTORY_RESERVED",outcome="ok"} 5` + "\n")},
		{name: "shipping", url: "http://127.0.0.1:1"}, // down
	}
	for i := range targets {
		targets[i].client = http.DefaultClient
	}
	d := &TriggerDispatcher{Trigger: trigger(t, "metrics-test-trigger", "INVENTORY_RESERVED", "http://127.0.0.1:1/", "")}
	d.recordDelivery(http.StatusOK, 0, nil, false, false)

	srv := httptest.NewServer(metricsHandler(func() []functionMetrics { return targets }))
	defer srv.Close()
	got := telemetrytest.Scrape(t, srv.URL+"/metrics")
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"function": "inventory", "type": "ORDER_REQUESTED"}, 3},
		{map[string]string{"function": "payment"}, 7},
		{map[string]string{"function": "payment", "instance": "payment-2"}, 5},
		{map[string]string{"function": "shipping"}, 0},
	} {
		if n := telemetrytest.Sum(got, "ordersaga_events_handled_total", c.labels); n != c.want {
			t.Errorf("ordersaga_events_handled_total%v = %v, want %v", c.labels, n, c.want)
		}
	}
	if n := telemetrytest.Sum(got, "ordersaga_local_deliveries_total", map[string]string{"trigger": "metrics-test-trigger", "outcome": "delivered"}); n < 1 {
		t.Errorf("ordersaga_local_deliveries_total of the trigger: %v, want at least 1", n)
	}
}
