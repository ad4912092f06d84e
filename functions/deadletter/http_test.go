package deadletter

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/function"
)

// api is the function served over HTTP as the runtime serves it, with an admin's and a user's
// token.
type api struct {
	*fixture
	srv         *httptest.Server
	admin, user string
}

func newAPI(t *testing.T) *api {
	f := newFixture(t)
	srv := httptest.NewServer(function.NewHandler(f.fn))
	t.Cleanup(srv.Close)
	return &api{fixture: f, srv: srv,
		admin: f.keys.Token(t, "admin-1", auth.RoleAdmin), user: f.keys.Token(t, "user-1", auth.RoleUser)}
}

// call sends a request with token (none if empty) and decodes the JSON answer into out.
func (a *api) call(t *testing.T, method, path, token, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

func TestOnlyAdminsReachTheAPI(t *testing.T) {
	a := newAPI(t)
	a.receive(t, deadLetter("ev-1", "ORDER_ACCEPTED", "order-1", "http://shipping", 400))
	id := a.only(t, Filter{}).ID.String()
	for _, req := range [][3]string{
		{"GET", "/deadletters", ""},
		{"GET", "/deadletters/" + id, ""},
		{"POST", "/deadletters/" + id + "/replay", ""},
		{"POST", "/deadletters/replay", `{}`},
	} {
		var body map[string]any
		if status := a.call(t, req[0], req[1], "", req[2], &body); status != http.StatusUnauthorized {
			t.Errorf("%s %s anonymous: %d %v, want 401", req[0], req[1], status, body)
		}
		for _, bad := range a.keys.BadTokens(t)[:2] {
			if status := a.call(t, req[0], req[1], bad.Token, req[2], &body); status != http.StatusUnauthorized || body["error"] != "invalid token" {
				t.Errorf("%s %s with %s: %d %v, want 401 invalid token", req[0], req[1], bad.Name, status, body)
			}
		}
		if status := a.call(t, req[0], req[1], a.user, req[2], &body); status != http.StatusForbidden {
			t.Errorf("%s %s as a user: %d %v, want 403", req[0], req[1], status, body)
		}
	}
	if d := a.only(t, Filter{}); d.Replays != 0 {
		t.Errorf("a refused caller replayed it %d times", d.Replays)
	}
}

func TestListFilters(t *testing.T) {
	a := newAPI(t)
	a.receive(t, deadLetter("ev-1", "INVENTORY_RESERVED", "order-1", "http://payment", 503))
	a.clock.advance(time.Second)
	a.receive(t, deadLetter("ev-2", "ORDER_ACCEPTED", "order-2", "http://shipping", 400))
	a.clock.advance(time.Second)
	a.receive(t, deadLetter("ev-3", "ORDER_ACCEPTED", "order-3", "http://shipping", 500))

	for query, want := range map[string][]string{
		"":                                    {"ev-3", "ev-2", "ev-1"}, // newest first
		"?limit=2":                            {"ev-3", "ev-2"},
		"?status=failed_permanently":          {"ev-2"},
		"?status=pending":                     {"ev-3", "ev-1"},
		"?type=ORDER_ACCEPTED":                {"ev-3", "ev-2"},
		"?order=order-1":                      {"ev-1"},
		"?destination=http://shipping":        {"ev-3", "ev-2"},
		"?type=ORDER_ACCEPTED&status=pending": {"ev-3"},
		"?order=nobody":                       {},
	} {
		var body struct {
			DeadLetters []View `json:"dead_letters"`
		}
		if status := a.call(t, "GET", "/deadletters"+query, a.admin, "", &body); status != http.StatusOK {
			t.Fatalf("GET %s: %d", query, status)
		}
		got := []string{}
		for _, v := range body.DeadLetters {
			got = append(got, v.EventID)
			if v.Event != nil {
				t.Errorf("GET %s lists the whole event", query)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("GET /deadletters%s = %v, want %v", query, got, want)
		}
	}
	for _, query := range []string{"?status=lost", "?limit=0", "?limit=1001", "?limit=x"} {
		var body map[string]any
		if status := a.call(t, "GET", "/deadletters"+query, a.admin, "", &body); status != http.StatusBadRequest {
			t.Errorf("GET %s: %d %v, want 400", query, status, body)
		}
	}
}

func TestShowAndReplayOverREST(t *testing.T) {
	a := newAPI(t)
	sub := newSubscriber(t)
	sub.set(false, true)
	a.receive(t, deadLetter("ev-1", "INVENTORY_RESERVED", "order-1", sub.srv.URL, 400))
	id := a.only(t, Filter{}).ID.String()

	var shown View
	if status := a.call(t, "GET", "/deadletters/"+id, a.admin, "", &shown); status != http.StatusOK {
		t.Fatalf("show: %d", status)
	}
	var ev map[string]any
	if err := json.Unmarshal(shown.Event, &ev); err != nil || ev["id"] != "ev-1" || ev["knativeerrorcode"] != "400" {
		t.Errorf("shown event %s (%v), want the CloudEvent as received", shown.Event, err)
	}
	if shown.Status != FailedPermanently || shown.ErrorData != "answer 400" || shown.Retryable {
		t.Errorf("shown %+v", shown)
	}

	var replayed View
	if status := a.call(t, "POST", "/deadletters/"+id+"/replay", a.admin, "", &replayed); status != http.StatusAccepted || replayed.Status != FailedPermanently || replayed.Replays != 1 || !strings.Contains(replayed.LastError, "HTTP 400") {
		t.Errorf("replay to a refusing subscriber: %d %+v", status, replayed)
	}
	sub.set(false, false)
	if status := a.call(t, "POST", "/deadletters/"+id+"/replay", a.admin, "", &replayed); status != http.StatusAccepted || replayed.Status != Delivered || replayed.Replays != 2 {
		t.Errorf("replay: %d %+v, want 202 delivered", status, replayed)
	}
	var body map[string]any
	if status := a.call(t, "POST", "/deadletters/"+id+"/replay", a.admin, "", &body); status != http.StatusConflict {
		t.Errorf("replay of a delivered one: %d %v, want 409", status, body)
	}
	if status := a.call(t, "POST", "/deadletters/"+id+"/replay?force=true", a.admin, "", &replayed); status != http.StatusAccepted || replayed.Replays != 3 {
		t.Errorf("forced replay: %d %+v", status, replayed)
	}
	if got := len(sub.events()); got != 2 {
		t.Errorf("subscriber got %d events, want 2", got)
	}
	for _, path := range []string{"/deadletters/not-a-uuid", "/deadletters/00000000-0000-0000-0000-000000000001"} {
		if status := a.call(t, "GET", path, a.admin, "", &body); status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, status)
		}
	}
}

func TestReplayMatching(t *testing.T) {
	a := newAPI(t)
	sub := newSubscriber(t)
	down := newSubscriber(t)
	down.set(true, false)
	a.receive(t, deadLetter("ev-1", "ORDER_ACCEPTED", "order-1", sub.srv.URL, 400))
	a.receive(t, deadLetter("ev-2", "ORDER_ACCEPTED", "order-2", down.srv.URL, 400))
	a.receive(t, deadLetter("ev-3", "INVENTORY_RESERVED", "order-3", sub.srv.URL, 400))

	var res ReplayResult
	if status := a.call(t, "POST", "/deadletters/replay", a.admin, `{"type":"ORDER_ACCEPTED"}`, &res); status != http.StatusAccepted {
		t.Fatalf("bulk replay: %d", status)
	}
	if res != (ReplayResult{Replayed: 2, Delivered: 1, Failed: 1}) {
		t.Errorf("bulk replay = %+v, want 2 replayed, 1 delivered, 1 failed", res)
	}
	if got := sub.events(); len(got) != 1 || got[0].ID() != "ev-1" {
		t.Errorf("subscriber got %v, want ev-1 only", got)
	}
	// Delivered ones are not sent again by a filter that does not ask for them.
	if status := a.call(t, "POST", "/deadletters/replay", a.admin, `{}`, &res); status != http.StatusAccepted || res.Replayed != 2 {
		t.Errorf("second bulk replay: %d %+v, want ev-2 and ev-3", status, res)
	}
	var body map[string]any
	if status := a.call(t, "POST", "/deadletters/replay", a.admin, `{"status":"gone"}`, &body); status != http.StatusBadRequest {
		t.Errorf("bad status filter: %d %v", status, body)
	}
	if status := a.call(t, "POST", "/deadletters/replay", a.admin, `{"colour":"red"}`, &body); status != http.StatusBadRequest {
		t.Errorf("unknown filter field: %d %v", status, body)
	}
}

// The event endpoint takes whatever the broker ingress takes: 64 KiB of data that is not even
// JSON, of an unknown type; a PingSource tick runs a pass and is not stored.
func TestEventEndpointTakesAnyDeadLetter(t *testing.T) {
	a := newAPI(t)
	post := func(typ string, data []byte) int {
		req, _ := http.NewRequest("POST", a.srv.URL+"/", bytes.NewReader(data))
		req.Header.Set("Ce-Specversion", "1.0")
		req.Header.Set("Ce-Id", "big-"+typ)
		req.Header.Set("Ce-Source", "test")
		req.Header.Set("Ce-Type", typ)
		req.Header.Set("Ce-Knativeerrorcode", "503")
		req.Header.Set("Ce-Knativeerrordest", "http://payment")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	big := bytes.Repeat([]byte{'{'}, events.MaxDataBytes)
	if status := post("SOMETHING_ELSE", big); status != http.StatusAccepted {
		t.Fatalf("64 KiB dead letter: %d, want 202", status)
	}
	d := a.only(t, Filter{Type: "SOMETHING_ELSE"})
	back, err := decodeEvent(d.Event)
	if err != nil || !bytes.Equal(back.Data(), big) {
		t.Errorf("stored data differs from the %d bytes received (%v)", len(big), err)
	}
	if status := post(PingType, []byte(`{"redrive":"deadletters"}`)); status != http.StatusAccepted {
		t.Fatalf("ping: %d", status)
	}
	all, _ := store{db: a.fn.Pool}.List(t.Context(), Filter{}, 10)
	if len(all) != 1 {
		t.Errorf("%d dead letters after a ping, want the one", len(all))
	}
}
