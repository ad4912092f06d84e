package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/gateway"
)

// upstream is a function whose /health/readiness answers 200 while ready is set, 503 otherwise.
type upstream struct {
	ready atomic.Bool
	url   string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/readiness" {
			t.Errorf("readiness asked %s, want /health/readiness", r.URL.Path)
		}
		if !u.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	u.url = srv.URL
	return u
}

type readinessBody struct {
	Error    string   `json:"error"`
	NotReady []string `json:"not_ready"`
}

func readiness(t *testing.T, h http.Handler) (int, readinessBody) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/health/readiness", nil))
	var body readinessBody
	if w.Code != http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("readiness %d body %q: %v", w.Code, w.Body, err)
		}
	}
	return w.Code, body
}

func TestReadinessWaitsForEveryFunctionBehindTheGateway(t *testing.T) {
	user, order, inventory, deadletter := newUpstream(t), newUpstream(t), newUpstream(t), newUpstream(t)
	h, err := gateway.Handler(map[string]string{"user": user.url, "order": order.url, "inventory": inventory.url, "deadletter": deadletter.url})
	if err != nil {
		t.Fatal(err)
	}
	user.ready.Store(true)
	deadletter.ready.Store(true)
	code, body := readiness(t, h)
	if code != http.StatusServiceUnavailable || body.Error != "not ready: inventory, order" ||
		len(body.NotReady) != 2 || body.NotReady[0] != "inventory" || body.NotReady[1] != "order" {
		t.Errorf("with order and inventory down: %d %+v, want 503 naming inventory and order", code, body)
	}
	order.ready.Store(true)
	inventory.ready.Store(true)
	if code, body := readiness(t, h); code != http.StatusOK {
		t.Errorf("with every function ready: %d %+v, want 200", code, body)
	}
}

func TestAnUnreachableFunctionIsNotReady(t *testing.T) {
	user, order, deadletter := newUpstream(t), newUpstream(t), newUpstream(t)
	user.ready.Store(true)
	order.ready.Store(true)
	deadletter.ready.Store(true)
	h, err := gateway.Handler(map[string]string{"user": user.url, "order": order.url, "inventory": "http://127.0.0.1:1", "deadletter": deadletter.url})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := readiness(t, h); code != http.StatusServiceUnavailable || len(body.NotReady) != 1 || body.NotReady[0] != "inventory" {
		t.Errorf("with inventory unreachable: %d %+v, want 503 naming inventory", code, body)
	}
}

func TestTheGatewayFunctionServesTheSameReadiness(t *testing.T) {
	user, order, inventory, deadletter := newUpstream(t), newUpstream(t), newUpstream(t), newUpstream(t)
	t.Setenv("USER_URL", user.url)
	t.Setenv("ORDER_URL", order.url)
	t.Setenv("INVENTORY_URL", inventory.url)
	t.Setenv("DEADLETTER_URL", deadletter.url)
	fn, err := gateway.New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	h := function.NewHandler(fn)
	user.ready.Store(true)
	inventory.ready.Store(true)
	deadletter.ready.Store(true)
	if code, body := readiness(t, h); code != http.StatusServiceUnavailable || len(body.NotReady) != 1 || body.NotReady[0] != "order" {
		t.Errorf("with order down: %d %+v, want 503 naming order", code, body)
	}
	if err := fn.Ready(t.Context()); err == nil {
		t.Error("Ready succeeded with order down")
	}
	order.ready.Store(true)
	if code, _ := readiness(t, h); code != http.StatusOK {
		t.Errorf("with every function ready: %d, want 200", code)
	}
}
