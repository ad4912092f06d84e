package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/auth/authtest"
	"github.com/ordersaga/ordersaga/internal/eventlog"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/gateway"
	"github.com/ordersaga/ordersaga/internal/kafka"
)

// consoleFixture is a gateway whose console reads a topic of an embedded broker, with a user
// function that publishes keys' JWKS, and two users' orders on the topic.
type consoleFixture struct {
	url      string
	keys     *authtest.Keys
	producer *kgo.Client
	topic    string
	// alice and bob are user ids; aliceOrder and bobOrder their orders.
	alice, bob, aliceOrder, bobOrder string
}

func newConsoleFixture(t *testing.T) *consoleFixture {
	t.Helper()
	const topic = "knative-broker-test-default"
	// One partition: the events reach every stream in the order they were written.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)

	keys := authtest.NewKeys(t)
	user := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(auth.JWKSet{Keys: []auth.JWK{auth.PublicJWK(keys.Public)}})
	}))
	t.Cleanup(user.Close)
	// The order function as the console asks it: GET /orders/{id}, the owner's or an admin's.
	f := &consoleFixture{keys: keys, producer: producer, topic: topic,
		alice: uuid.NewString(), bob: uuid.NewString(), aliceOrder: uuid.NewString(), bobOrder: uuid.NewString()}
	owners := map[string]string{f.aliceOrder: f.alice, f.bobOrder: f.bob}
	placed := time.Now().UTC()
	order := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := keys.Verifier().Authenticate(r)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/orders/")
		owner, ok := owners[id]
		if !ok || (owner != p.UserID && !p.IsAdmin()) {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "user_id": owner, "created_at": placed})
	}))
	t.Cleanup(order.Close)
	h, err := gateway.Handler(map[string]string{"user": user.URL, "order": order.URL, "inventory": backend(t, "inventory"),
		"deadletter": backend(t, "deadletter")}, gateway.EventSource{Kafka: kafka.Config{Brokers: cluster.ListenAddrs()}, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	f.requested(t, f.aliceOrder, f.alice)
	f.requested(t, f.bobOrder, f.bob)
	f.reserved(t, f.aliceOrder, f.alice)
	return f
}

func (f *consoleFixture) publish(t *testing.T, source string, payload events.Payload) {
	t.Helper()
	e, err := events.New(source, payload)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := kafka.Record(f.topic, e)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.producer.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func (f *consoleFixture) requested(t *testing.T, order, user string) {
	f.publish(t, events.SourceOrder, events.OrderRequestedV1{OrderID: order, UserID: user, Items: []events.Line{{SKU: "BOOK-1", Quantity: 1}}})
}

func (f *consoleFixture) reserved(t *testing.T, order, user string) {
	f.publish(t, events.SourceInventory, events.InventoryReservedV1{OrderID: order, UserID: user,
		Items: []events.Line{{SKU: "BOOK-1", Quantity: 1}}, TotalCents: 1250})
}

func (f *consoleFixture) get(t *testing.T, path, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: token})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// sagaEvent is what the stream sends of an event.
type sagaEvent struct {
	Type  string `json:"type"`
	Order string `json:"order"`
}

// stream reads the SSE stream: the backlog up to the live marker, then a channel of what follows.
func (f *consoleFixture) stream(t *testing.T, token string) (backlog []sagaEvent, live <-chan sagaEvent) {
	t.Helper()
	resp := f.get(t, "/console/api/events", token)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /console/api/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// The live marker travels in the channel as an event of type "live", so it keeps its place.
	ch := make(chan sagaEvent, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		kind := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				kind = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && kind == "live":
				ch <- sagaEvent{Type: "live"}
			case strings.HasPrefix(line, "data: ") && kind == "saga":
				var ev sagaEvent
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil {
					t.Errorf("stream data %q: %v", line, err)
				}
				ch <- ev
			}
		}
	}()
	for {
		ev := next(t, ch)
		if ev.Type == "live" {
			return backlog, ch
		}
		backlog = append(backlog, ev)
	}
}

func orders(evs []sagaEvent) map[string]int {
	out := map[string]int{}
	for _, e := range evs {
		out[e.Order]++
	}
	return out
}

// next is the stream's next event, waiting for it (the deadline only ends a test that would
// hang; it is not what is tested).
func next(t *testing.T, ch <-chan sagaEvent) sagaEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event on the stream")
	}
	return sagaEvent{}
}

// An admin's stream carries every order's events; a user's only their own, in the backlog and
// live alike.
func TestConsoleEventStreamShowsAUserOnlyTheirOwnOrders(t *testing.T) {
	f := newConsoleFixture(t)
	admin := f.keys.Token(t, uuid.NewString(), auth.RoleAdmin)
	alice := f.keys.Token(t, f.alice, auth.RoleUser)
	bob := f.keys.Token(t, f.bob, auth.RoleUser)

	// The first stream starts the reader; the backlog may still be filling when it goes live,
	// so read the admin's until all three events are there.
	backlog, adminLive := f.stream(t, admin)
	for len(backlog) < 3 {
		backlog = append(backlog, next(t, adminLive))
	}
	if got := orders(backlog); got[f.aliceOrder] != 2 || got[f.bobOrder] != 1 || len(got) != 2 {
		t.Errorf("admin's backlog by order: %v, want alice's 2 and bob's 1", got)
	}
	aliceBacklog, aliceLive := f.stream(t, alice)
	if got := orders(aliceBacklog); got[f.aliceOrder] != 2 || len(got) != 1 {
		t.Errorf("alice's backlog by order: %v, want her 2 events only", got)
	}
	bobBacklog, bobLive := f.stream(t, bob)
	if got := orders(bobBacklog); got[f.bobOrder] != 1 || len(got) != 1 {
		t.Errorf("bob's backlog by order: %v, want his 1 event only", got)
	}

	// Live: alice's event, then bob's. Bob's stream must give his first, not hers.
	f.reserved(t, f.aliceOrder, f.alice)
	f.reserved(t, f.bobOrder, f.bob)
	if ev := next(t, aliceLive); ev.Order != f.aliceOrder {
		t.Errorf("alice got %+v live", ev)
	}
	if ev := next(t, bobLive); ev.Order != f.bobOrder {
		t.Errorf("bob got %+v live, want his own order's event first", ev)
	}
	for range 2 {
		next(t, adminLive)
	}

	if resp := f.get(t, "/console/api/events", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("stream without a token: %d, want 401", resp.StatusCode)
	}
	for _, bad := range f.keys.BadTokens(t) {
		if resp := f.get(t, "/console/api/events", bad.Token); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("stream with %s: %d, want 401", bad.Name, resp.StatusCode)
		}
	}
}

// A timeline is the order's trace as ordersctl events trace has it; another user's order is 404.
func TestConsoleTimeline(t *testing.T) {
	f := newConsoleFixture(t)
	admin := f.keys.Token(t, uuid.NewString(), auth.RoleAdmin)
	alice := f.keys.Token(t, f.alice, auth.RoleUser)
	bob := f.keys.Token(t, f.bob, auth.RoleUser)
	path := "/console/api/orders/" + f.aliceOrder + "/timeline"

	since := "?since=" + time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for who, token := range map[string]string{"admin": admin, "owner": alice, "owner, since a minute ago": alice} {
		p := path
		if strings.Contains(who, "since") {
			p += since
		}
		resp := f.get(t, p, token)
		var tr eventlog.Trace
		if err := json.NewDecoder(resp.Body).Decode(&tr); resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("%s: timeline %d (%v)", who, resp.StatusCode, err)
		}
		if len(tr.Events) != 2 || tr.Events[0].Type != string(events.OrderRequested) || tr.Events[1].Type != string(events.InventoryReserved) ||
			tr.Events[1].After != string(events.OrderRequested) || tr.Events[1].HopMS == nil || tr.Events[1].Source != events.SourceInventory {
			t.Errorf("%s: timeline %+v, want ORDER_REQUESTED then INVENTORY_RESERVED after it", who, tr.Events)
		}
	}
	for name, tc := range map[string]struct {
		path, token string
		want        int
	}{
		"another user's order": {path, bob, http.StatusNotFound},
		"an unknown order":     {"/console/api/orders/" + uuid.NewString() + "/timeline", admin, http.StatusNotFound},
		"no token":             {path, "", http.StatusUnauthorized},
		"a bad since":          {path + "?since=yesterday", admin, http.StatusBadRequest},
		"since after it all":   {path + "?since=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339), admin, http.StatusNotFound},
	} {
		resp := f.get(t, tc.path, tc.token)
		var body struct{ Error string }
		if err := json.NewDecoder(resp.Body).Decode(&body); resp.StatusCode != tc.want || err != nil || body.Error == "" {
			t.Errorf("%s: %d %+v (%v), want %d with a JSON error", name, resp.StatusCode, body, err, tc.want)
		}
	}
}

// The page is served for every console path (its router picks the view), its assets by name,
// with a policy that keeps it to its own origin; unknown API paths are JSON 404s.
func TestConsolePageAndAssets(t *testing.T) {
	h, err := gateway.Handler(map[string]string{"user": backend(t, "user"), "order": backend(t, "order"),
		"inventory": backend(t, "inventory"), "deadletter": backend(t, "deadletter")})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/console/":             "text/html",
		"/console/orders/42":    "text/html",
		"/console/deadletters":  "text/html",
		"/console/app.js":       "text/javascript",
		"/console/console.css":  "text/css",
		"/console/../orders":    "", // cleaned by the mux to /orders: proxied, not the console
		"/console/api/nothing":  "application/json",
		"/console/api/events":   "application/json", // no event source: 503
		"/console/missing.js/x": "text/html",
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		ct := w.Header().Get("Content-Type")
		switch {
		case want == "":
			continue
		case !strings.HasPrefix(ct, want):
			t.Errorf("GET %s: %d %s, want %s", path, w.Code, ct, want)
		case want == "text/html" && (w.Code != 200 || !strings.Contains(w.Body.String(), `src="/console/app.js"`) ||
			!strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'self'")):
			t.Errorf("GET %s: %d, CSP %q: not the console page", path, w.Code, w.Header().Get("Content-Security-Policy"))
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/console/api/nothing", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("unknown console API path: %d, want 404", w.Code)
	}
}

// A stream ends with an expired message once the caller's token has expired, rather than
// outliving the sign-in.
func TestConsoleEventStreamEndsWhenTheTokenExpires(t *testing.T) {
	gateway.SetKeepAlive(t, 200*time.Millisecond)
	f := newConsoleFixture(t)
	priv, err := auth.ParsePrivateKeyPEM([]byte(f.keys.PrivateKeyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	// Valid for a second, and the verifier's leeway (5 s) after that.
	short, _, err := auth.NewSigner(priv, auth.KeyID(f.keys.Public), time.Second).Sign(
		auth.Principal{UserID: uuid.NewString(), Email: "admin@example.com", Role: auth.RoleAdmin}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp := f.get(t, "/console/api/events", short)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	done := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		last := ""
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: ") {
				last = sc.Text()
			}
		}
		done <- last
	}()
	select {
	case last := <-done:
		if last != "event: expired" {
			t.Errorf("the stream ended after %q, want an expired message", last)
		}
	case <-time.After(time.Minute):
		t.Fatal("the stream outlived its token")
	}
}
