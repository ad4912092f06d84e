package local

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/cli"
	"github.com/ordersaga/ordersaga/internal/client"
)

// allAtZero reports whether every function of the stack has no instance.
func allAtZero(s *Stack) bool {
	for _, f := range s.ScaleStatus(context.Background()).Functions {
		if f.Instances > 0 || f.Draining > 0 {
			return false
		}
	}
	return true
}

// inventoryRequests is how many requests inventory's activator has taken (read straight: the
// full status also asks Kafka for every Trigger's lag).
func inventoryRequests(s *Stack) int64 {
	return s.scaled["inventory"].act.metrics.total.Load()
}

func coldStarts(s *Stack) int {
	n := 0
	for _, f := range s.ScaleStatus(context.Background()).Functions {
		n += f.ColdStarts
	}
	return n
}

// The whole saga with Knative's autoscaler and short windows: every function idles to zero, a
// burst of orders from zero scales at least one function out (an inventory instance is killed
// in the middle of it), every order ends with the saga's invariants intact (nothing lost,
// nothing applied twice), and the functions return to zero.
func TestSagaBurstFromZeroAndBack(t *testing.T) {
	x := startE2E(t, func(c *Config) {
		c.Scaling = "on"
		c.Scale = ScalingConfig{StableWindow: 3 * time.Second, ScaleToZeroGrace: time.Second, Target: 2}
		c.MetricsAddr = "127.0.0.1:0"
	})
	x.stock(t, "SCALE-PLENTY", 1250, 1000)
	x.stock(t, "SCALE-SCARCE", 4999, 30)
	x.stock(t, "SCALE-OTHER", 300, 1000)
	waitFor(t, "every function to idle to zero", func() bool { return allAtZero(x.stack) })

	// An inventory instance is killed mid-burst: once inventory has taken some of the burst's
	// requests (it starts only when the first events reach it, so placing the orders may be
	// over by then), with most of them still to come.
	var killed atomic.Bool
	stopKiller := make(chan struct{})
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for !killed.Load() {
			select {
			case <-stopKiller:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if inventoryRequests(x.stack) >= 20 && x.stack.Kill("inventory") == nil {
				killed.Store(true)
			}
		}
	}()
	ids := x.placeConcurrently(t, mix(150, "SCALE-PLENTY", "SCALE-SCARCE", "SCALE-OTHER"), nil)
	orders := x.waitTerminal(t, ids)
	close(stopKiller)
	<-killerDone
	completed, declined, rejected := x.checkSaga(t, ids, orders)
	t.Logf("150 orders from zero: %d completed, %d declined, %d refused", completed, declined, rejected)
	if !killed.Load() {
		t.Error("no inventory instance was killed during the burst")
	}

	peak := 0
	for _, f := range x.stack.ScaleStatus(context.Background()).Functions {
		t.Logf("%s: peak %d instances, %d cold starts, %d requests", f.Name, f.PeakInstances, f.ColdStarts, f.Requests)
		peak = max(peak, f.PeakInstances)
	}
	if peak < 2 {
		t.Errorf("no function ran more than %d instance under a burst of 150 orders with a target of 2 in flight", peak)
	}
	// ordersctl top reads the same status through the gateway's address.
	var out, errOut strings.Builder
	if code := cli.Run(context.Background(), []string{"top", "-o", "json"}, &out, &errOut,
		cli.Env{Getenv: func(name string) string {
			if name == "ORDERSCTL_SERVER" {
				return x.stack.GatewayURL
			}
			return ""
		}, StdinFd: -1}); code != 0 {
		t.Fatalf("ordersctl top: exit %d: %s", code, errOut.String())
	}
	var top client.ScaleStatus
	if err := json.Unmarshal([]byte(out.String()), &top); err != nil || top.Scaling != "on" || len(top.Functions) == 0 || len(top.Triggers) == 0 {
		t.Errorf("ordersctl top -o json: %v %s", err, out.String())
	}
	for _, tr := range top.Triggers {
		if tr.Lag < 0 {
			t.Errorf("trigger %s: lag unknown (the stack could not read its consumer group)", tr.Name)
		}
	}
	waitFor(t, "every function to return to zero", func() bool { return allAtZero(x.stack) })

	// A scrape of the stack's metrics reads the instances there are: at zero it wakes nothing
	// (through an activator it would wait for a cold start of each function).
	before := coldStarts(x.stack)
	resp, err := http.Get(x.stack.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics at zero: %s", resp.Status)
	}
	if after := coldStarts(x.stack); after != before || !allAtZero(x.stack) {
		t.Errorf("a metrics scrape at zero started instances: cold starts %d, then %d", before, after)
	}

	// The scaling status is the stack's own, beside the gateway: under the same Host check
	// against DNS rebinding (a page on evil.example resolving to 127.0.0.1).
	for host, want := range map[string]int{"": http.StatusOK, "evil.example": http.StatusBadRequest} {
		req, _ := http.NewRequest(http.MethodGet, x.stack.GatewayURL+client.ScalePath, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s with Host %q: %s, want %d", client.ScalePath, host, resp.Status, want)
		}
	}

	// From zero again, one order still completes its saga (each hop a cold start).
	one := x.placeConcurrently(t, mix(1, "SCALE-PLENTY", "SCALE-OTHER", "SCALE-OTHER"), nil)
	x.waitTerminal(t, one)
}
