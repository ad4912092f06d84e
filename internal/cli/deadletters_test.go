package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/functions/deadletter"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/auth/authtest"
	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

// deadLetterServer is a dead-letter function served over HTTP on its own test database, with a
// subscriber to replay to (it takes events once up is set) and environments logged in as an
// admin and as a user.
type deadLetterServer struct {
	url         string
	subscriber  string
	up          *atomic.Bool
	admin, user vars
}

func newDeadLetterServer(t *testing.T) *deadLetterServer {
	t.Helper()
	broker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	t.Cleanup(broker.Close)
	up := &atomic.Bool{}
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "not yet", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(sub.Close)
	keys := authtest.NewKeys(t)
	fn, err := deadletter.Open(context.Background(), deadletter.Config{
		DatabaseURL: pgtest.NewSchema(t, "ordersaga_deadletter", deadletter.Schema),
		Sink:        broker.URL,
		Config:      keys.Config(),
		Redrive: deadletter.RedriveConfig{Initial: time.Second, MaxBackoff: time.Minute, Window: time.Hour,
			Interval: time.Hour, Timeout: 10 * time.Second, Retention: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fn.Close)
	srv := httptest.NewServer(function.NewHandler(fn))
	t.Cleanup(srv.Close)
	login := func(role auth.Role) vars {
		path := filepath.Join(t.TempDir(), "config.json")
		cfg := &Config{Servers: map[string]Login{serverKey(srv.URL): {Email: string(role) + "@example.com",
			AccessToken: keys.Token(t, string(role)+"-1", role), ExpiresAt: time.Now().Add(time.Hour)}}}
		if err := saveConfig(path, cfg); err != nil {
			t.Fatal(err)
		}
		return vars{"ORDERSCTL_SERVER": srv.URL, "ORDERSCTL_CONFIG": path}
	}
	return &deadLetterServer{url: srv.URL, subscriber: sub.URL, up: up, admin: login(auth.RoleAdmin), user: login(auth.RoleUser)}
}

// deadLetter posts an event to the sink as a Trigger gives up on it: the subscriber refused it.
func (s *deadLetterServer) deadLetter(t *testing.T, id, typ, order string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/", strings.NewReader(`{"order_id":"`+order+`"}`))
	for k, v := range map[string]string{
		"Ce-Specversion": "1.0", "Ce-Id": id, "Ce-Source": "ordersaga/order", "Ce-Type": typ, "Ce-Subject": order,
		"Ce-Knativeerrorcode": "400", "Ce-Knativeerrordest": s.subscriber, "Content-Type": "application/json",
	} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("dead letter %s: %d", id, resp.StatusCode)
	}
}

func TestDeadLettersListShowAndReplay(t *testing.T) {
	s := newDeadLetterServer(t)
	s.deadLetter(t, "ev-1", "ORDER_ACCEPTED", "order-1")
	s.deadLetter(t, "ev-2", "ORDER_CANCELLED", "order-2")

	var listed struct {
		DeadLetters []client.DeadLetter `json:"dead_letters"`
	}
	if err := json.Unmarshal([]byte(ok(t, s.admin, "deadletters", "list", "-o", "json")), &listed); err != nil || len(listed.DeadLetters) != 2 {
		t.Fatalf("list -o json: %v %+v, want 2 dead letters", err, listed)
	}
	table := ok(t, s.admin, "deadletters", "list", "--type", "ORDER_ACCEPTED")
	if !strings.Contains(table, "order-1") || strings.Contains(table, "order-2") || !strings.Contains(table, "failed_permanently") {
		t.Errorf("list --type ORDER_ACCEPTED:\n%s", table)
	}
	if out := ok(t, s.admin, "deadletters", "list", "--order", "nobody", "-o", "json"); !strings.Contains(out, `"dead_letters": []`) {
		t.Errorf("list --order nobody: %s", out)
	}
	var id string
	for _, d := range listed.DeadLetters {
		if d.EventID == "ev-1" {
			id = d.ID
		}
	}
	shown := ok(t, s.admin, "deadletters", "show", id)
	if !strings.Contains(shown, "HTTP 400") || !strings.Contains(shown, `"id": "ev-1"`) {
		t.Errorf("show:\n%s", shown)
	}

	// The subscriber still refuses: the replay is recorded and the exit code says it failed.
	if r := run(t, s.admin, "deadletters", "replay", id); r.code != ExitFailure || !strings.Contains(r.stderr, "not delivered") {
		t.Errorf("replay to a refusing subscriber: %s", r)
	}
	s.up.Store(true)
	var replayed client.DeadLetter
	if err := json.Unmarshal([]byte(ok(t, s.admin, "deadletters", "replay", id, "-o", "json")), &replayed); err != nil || replayed.Status != "delivered" || replayed.Replays != 2 {
		t.Errorf("replay: %v %+v, want delivered after 2 replays", err, replayed)
	}
	if r := run(t, s.admin, "deadletters", "replay", id); r.code != ExitFailure || !strings.Contains(r.stderr, "already delivered") {
		t.Errorf("replay of a delivered one: %s", r)
	}
	ok(t, s.admin, "deadletters", "replay", id, "--force")

	if out := ok(t, s.admin, "deadletters", "replay", "--all", "--type", "ORDER_CANCELLED"); !strings.Contains(out, "replayed 1: 1 delivered, 0 failed") {
		t.Errorf("replay --all: %s", out)
	}
	if out := ok(t, s.admin, "deadletters", "list", "--status", "delivered", "-o", "json"); strings.Count(out, `"status": "delivered"`) != 2 {
		t.Errorf("after the replays, list --status delivered: %s", out)
	}
}

func TestDeadLettersNeedAnAdminAndAWellFormedCommand(t *testing.T) {
	s := newDeadLetterServer(t)
	if r := run(t, s.user, "deadletters", "list"); r.code != ExitFailure || !strings.Contains(r.stderr, "admin role required") {
		t.Errorf("list as a user: %s", r)
	}
	for _, args := range [][]string{
		{"deadletters", "replay"},
		{"deadletters", "replay", "x", "--all"},
		{"deadletters", "replay", "x", "--type", "ORDER_ACCEPTED"},
		{"deadletters", "show"},
	} {
		if r := run(t, s.admin, args...); r.code != ExitUsage {
			t.Errorf("%v: %s, want a usage error", args, r)
		}
	}
	if r := run(t, s.admin, "deadletters", "show", "00000000-0000-0000-0000-000000000001"); r.code != ExitFailure || !strings.Contains(r.stderr, "not found") {
		t.Errorf("show of an unknown id: %s", r)
	}
}

// On the local stack: an event its subscriber refuses is dead-lettered by the Trigger's
// dispatcher, stored by the dead-letter function and shown and replayed through the gateway.
func TestDeadLettersOnTheLocalStack(t *testing.T) {
	s := startStack(t)
	admin := vars{"ORDERSCTL_SERVER": s.GatewayURL, "ORDERSCTL_KAFKA": strings.Join(s.KafkaBrokers, ","),
		"ORDERSCTL_TOPIC": s.Topic, "ORDERSAGA_DATA": stackData(), "ORDERSCTL_CONFIG": filepath.Join(t.TempDir(), "config.json")}
	ok(t, admin, "login", "--email", s.AdminEmail, "--password", s.AdminPassword)
	order := uuid.NewString() // no such order: the order function answers 400
	ok(t, admin, "events", "send", "--type", "TRANSACTION_FAILED", "--source", "ordersctl-test",
		"--data", `{"order_id":"`+order+`","transaction_id":"t-1","amount_cents":1,"reason":"payment_declined"}`)

	var listed struct {
		DeadLetters []client.DeadLetter `json:"dead_letters"`
	}
	deadline := time.Now().Add(time.Minute)
	for len(listed.DeadLetters) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter for order %s within a minute", order)
		}
		time.Sleep(100 * time.Millisecond)
		if err := json.Unmarshal([]byte(ok(t, admin, "deadletters", "list", "--order", order, "-o", "json")), &listed); err != nil {
			t.Fatal(err)
		}
	}
	d := listed.DeadLetters[0]
	if len(listed.DeadLetters) != 1 || d.Type != "TRANSACTION_FAILED" || d.ErrorCode != 400 || d.Status != "failed_permanently" ||
		d.Retryable || d.Destination == "" {
		t.Fatalf("dead letter %+v, want one refused TRANSACTION_FAILED with its destination", listed.DeadLetters)
	}
	if shown := ok(t, admin, "deadletters", "show", d.ID); !strings.Contains(shown, order) || !strings.Contains(shown, "ordersctl-test") {
		t.Errorf("show:\n%s", shown)
	}
	// Still refused: the replay reaches the order function, which answers 400 again.
	r := run(t, admin, "deadletters", "replay", d.ID, "-o", "json")
	var replayed client.DeadLetter
	if err := json.Unmarshal([]byte(r.stdout), &replayed); err != nil || r.code != ExitFailure || replayed.Replays != 1 || replayed.ErrorCode != 400 {
		t.Errorf("replay: %s (%v)", r, err)
	}
}
