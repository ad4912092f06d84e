package gateway

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/auth/authtest"
	"github.com/ordersaga/ordersaga/internal/kafka"
)

// Each timeline reads the topic with its own client: past concurrentTimelines at once, a
// request is told to come back (429 with Retry-After) before anything is opened.
func TestTimelinesReadAFewAtATime(t *testing.T) {
	orders := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"id":"x","created_at":"2026-12-04T10:00:00Z"}`)
	}))
	defer orders.Close()
	tl := newTimelines(&EventSource{Topic: "unreachable"}, orders.URL) // no brokers: reaching Kafka would be a 503
	for range concurrentTimelines {
		tl.reading <- struct{}{}
	}
	req := httptest.NewRequest(http.MethodGet, "/console/api/orders/x/timeline", nil)
	req.SetPathValue("id", "x")
	rec := httptest.NewRecorder()
	tl.serve(rec, req, auth.Principal{Role: auth.RoleAdmin})
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("timeline with every slot taken: %d (Retry-After %q), want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// The hub keeps reading for a while after the last page left, so a page that reconnects finds
// it running; then it stops.
func TestEventHubLingersAfterTheLastPage(t *testing.T) {
	h := newEventHub(EventSource{Topic: "unreachable"}) // no brokers: the reader retries meanwhile
	admin := auth.Principal{Role: auth.RoleAdmin}
	s, _ := h.subscribe(admin)
	h.unsubscribe(s)
	h.mu.Lock()
	running := h.stop != nil
	h.mu.Unlock()
	if !running {
		t.Fatal("the reader stopped as soon as the last page left")
	}
	s, _ = h.subscribe(admin) // a reconnect: the pending stop is called off
	h.mu.Lock()
	h.linger = 10 * time.Millisecond
	h.mu.Unlock()
	h.unsubscribe(s)
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		stopped := h.stop == nil
		h.mu.Unlock()
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the reader never stopped after the last page left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// On a cluster the gateway verifies the console's callers as every function does: with
// AUTH_PUBLIC_KEY set it needs no JWKS from the user function (here unreachable).
func TestGatewayVerifiesConsoleCallersWithTheConfiguredKey(t *testing.T) {
	keys := authtest.NewKeys(t)
	for k, v := range map[string]string{
		"USER_URL": "http://127.0.0.1:1", "ORDER_URL": "http://127.0.0.1:1", "INVENTORY_URL": "http://127.0.0.1:1",
		"DEADLETTER_URL": "http://127.0.0.1:1", "AUTH_PUBLIC_KEY": keys.Config().PublicKey,
	} {
		t.Setenv(k, v)
	}
	f, err := New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	f.Routes(mux)
	for token, want := range map[string]int{
		keys.Token(t, "u1", auth.RoleAdmin): http.StatusServiceUnavailable, // verified; no Kafka configured
		"not-a-token":                       http.StatusUnauthorized,
	} {
		req := httptest.NewRequest(http.MethodGet, "/console/api/orders/x/timeline", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("timeline with token %.12s...: %d, want %d (%s)", token, rec.Code, want, rec.Body)
		}
	}
}

// A page is told when the gateway cannot read the broker topic (here: it does not exist), so a
// flow that is cut off does not pass for a quiet one.
func TestEventStreamSaysWhenTheTopicCannotBeRead(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	saved := keepAlive
	keepAlive = 20 * time.Millisecond
	defer func() { keepAlive = saved }()
	h := newEventHub(EventSource{Kafka: kafka.Config{Brokers: cluster.ListenAddrs()}, Topic: "no-such-topic"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.serveEvents(w, r, auth.Principal{Role: auth.RoleAdmin}, func(*http.Request) error { return nil })
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if lines.Text() == "event: unavailable" {
			return
		}
	}
	t.Fatalf("the stream never said the topic is unavailable (%v)", lines.Err())
}
