package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/client"
)

// fakeGateway serves the parts of the REST contract the offline tests need, including
// POST /orders/{id}/cancel as the order function is to serve it: 202 with the order (still
// REQUESTED while the saga decides; it then ends CANCELLED), 409 once paid for or over, 404 for
// an unknown order.
type fakeGateway struct {
	*httptest.Server
	mu       sync.Mutex
	orders   map[string]*client.Order
	items    []client.Item
	requests []string // method, path and whether a body came, for the tests to check
}

const fakeToken = "fake-token"

func newFakeGateway(t *testing.T) *fakeGateway {
	g := &fakeGateway{orders: map[string]*client.Order{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) { g.reply(w, http.StatusOK, g.items) })
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) {
		g.reply(w, http.StatusForbidden, map[string]string{"error": "admin role required"})
	})
	mux.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		list := []*client.Order{}
		for _, o := range g.orders {
			list = append(list, o)
		}
		g.reply(w, http.StatusOK, list)
	})
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		o, ok := g.orders[r.PathValue("id")]
		if !ok {
			g.reply(w, http.StatusNotFound, map[string]string{"error": "order not found"})
			return
		}
		g.reply(w, http.StatusOK, o)
	})
	mux.HandleFunc("POST /orders/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		o, ok := g.orders[r.PathValue("id")]
		switch {
		case !ok:
			g.reply(w, http.StatusNotFound, map[string]string{"error": "order not found"})
		case o.Status != client.StatusRequested:
			g.reply(w, http.StatusConflict, map[string]string{"error": "order " + o.ID + " is " + o.Status + ": too late to cancel"})
		default:
			g.reply(w, http.StatusAccepted, o) // still REQUESTED: the saga decides
			o.Status, o.CancelReason, o.UpdatedAt = client.StatusCancelled, "cancelled_by_user", o.UpdatedAt.Add(time.Millisecond)
		}
	})
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.requests = append(g.requests, r.Method+" "+r.URL.Path+" body="+r.Header.Get("Content-Type"))
		g.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+fakeToken {
			g.reply(w, http.StatusUnauthorized, map[string]string{"error": "invalid token"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *fakeGateway) reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// addOrder stores an order of the signed-in user in status.
func (g *fakeGateway) addOrder(id, status string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	at := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	g.orders[id] = &client.Order{ID: id, UserID: "u-1", Status: status, Items: []client.Line{{SKU: "BOOK-1", Quantity: 1}},
		CreatedAt: at, UpdatedAt: at}
}

// loggedIn is an environment for the CLI logged in to g, with Kafka pointing at nothing.
func (g *fakeGateway) loggedIn(t *testing.T, token string) vars {
	v := offline(t)
	v["ORDERSCTL_SERVER"] = g.URL
	cfg := &Config{Servers: map[string]Login{serverKey(g.URL): {Email: "me@example.com", AccessToken: token,
		ExpiresAt: time.Now().Add(time.Hour)}}}
	if err := saveConfig(v["ORDERSCTL_CONFIG"], cfg); err != nil {
		t.Fatal(err)
	}
	return v
}
