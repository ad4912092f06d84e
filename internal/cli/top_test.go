package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/client"
)

// A stack's scaling status as ordersctl top shows it (the local stack's own answer is checked
// in internal/local's burst test, which runs top against it).
func TestTopShowsFunctionsAndTriggerLag(t *testing.T) {
	status := client.ScaleStatus{Scaling: "on",
		Functions: []client.FunctionScale{{Name: "inventory", Instances: 3, Ready: 2, Draining: 1, Desired: 3, Max: 10,
			Metric: "concurrency", Target: 35, InFlight: 41, RequestsPerS: 250.5, P50Millis: 3.2, P99Millis: 48.5, ColdStarts: 4, PeakInstances: 5}},
		Triggers: []client.TriggerLag{{Name: "inventory-order-requested", Subscriber: "inventory", Lag: 17}, {Name: "order-order-shipped", Subscriber: "order", Lag: -1}}}
	stack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != client.ScalePath {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(status)
	}))
	defer stack.Close()
	v := vars{"ORDERSCTL_SERVER": stack.URL}

	table := ok(t, v, "top")
	for _, want := range []string{"scaling on", "inventory", "2/3 +1 draining", "0-10", "41", "250.5", "3.2ms", "48.5ms",
		"inventory-order-requested", "17", "order-order-shipped"} {
		if !strings.Contains(table, want) {
			t.Errorf("top: no %q in\n%s", want, table)
		}
	}
	var got client.ScaleStatus
	if err := json.Unmarshal([]byte(ok(t, v, "top", "-o", "json")), &got); err != nil || len(got.Functions) != 1 || got.Functions[0].PeakInstances != 5 || got.Triggers[0].Lag != 17 {
		t.Errorf("top -o json: %v %+v", err, got)
	}

	// A server that is not a local stack: a clear error, not a decoding failure.
	gateway := httptest.NewServer(http.NotFoundHandler())
	defer gateway.Close()
	r := run(t, vars{"ORDERSCTL_SERVER": gateway.URL}, "top")
	if r.code == 0 || !strings.Contains(r.stderr, "top needs the local stack") {
		t.Errorf("top against a plain gateway: %s", r)
	}
	if r := run(t, v, "top", "--interval", "0s"); r.code == 0 || !strings.Contains(r.stderr, "--interval must be positive") {
		t.Errorf("top --interval 0s: %s", r)
	}
}
