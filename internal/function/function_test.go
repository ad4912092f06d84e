package function_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/eventauth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/function"
)

// echo replies to every event with a copy of it, fails on demand, and reports readiness.
type echo struct {
	err   error
	ready error
	got   int
}

func (f *echo) Handle(_ context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	f.got++
	if f.err != nil {
		return nil, f.err // bare, as functions return them: the runtime maps the status
	}
	r := e.Clone()
	r.SetID(e.ID() + "-reply")
	return &r, nil
}
func (f *echo) Ready(context.Context) error { return f.ready }
func (f *echo) post(t *testing.T, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	function.NewHandler(f).ServeHTTP(w, req)
	return w
}

func binaryEvent(body string) *http.Request {
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", "1")
	req.Header.Set("Ce-Source", "test")
	req.Header.Set("Ce-Type", "ORDER_SHIPPED")
	req.Header.Set("Content-Type", "application/json")
	return req
}

func TestEventEndpointRepliesInBinaryMode(t *testing.T) {
	f := &echo{}
	w := f.post(t, binaryEvent(`{"order_id":"o"}`))
	if w.Code != http.StatusOK || w.Header().Get("Ce-Id") != "1-reply" || w.Body.String() != `{"order_id":"o"}` {
		t.Errorf("got %d, ce-id %q, body %q", w.Code, w.Header().Get("Ce-Id"), w.Body)
	}
}

func TestEventEndpointRejectsWhatIsNotAValidCloudEvent(t *testing.T) {
	missingID := binaryEvent(`{}`)
	missingID.Header.Del("Ce-Id")
	plain := httptest.NewRequest("POST", "/", strings.NewReader(`{"hello":1}`))
	plain.Header.Set("Content-Type", "application/json")
	huge := binaryEvent(`{"x":"` + strings.Repeat("x", 200<<10) + `"}`)
	for name, c := range map[string]struct {
		req    *http.Request
		status int
	}{
		"missing id":          {missingID, http.StatusBadRequest},
		"not a CloudEvent":    {plain, http.StatusUnsupportedMediaType},
		"oversized":           {huge, http.StatusRequestEntityTooLarge},
		"malformed structure": {structured(`{"specversion":"1.0",`), http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			f := &echo{}
			if w := f.post(t, c.req); w.Code != c.status || f.got != 0 {
				t.Errorf("status %d (handled %d times), want %d and not handled", w.Code, f.got, c.status)
			}
		})
	}
}

func structured(body string) *http.Request {
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	return req
}

func TestHandleErrorsFollowTheRetryContract(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
	}{
		{events.ErrInvalid, http.StatusBadRequest},
		{apperr.Errorf(apperr.Invalid, "bad"), http.StatusBadRequest},
		{apperr.Errorf(apperr.NotFound, "no order"), http.StatusBadRequest},
		{apperr.Errorf(apperr.Conflict, "finished"), http.StatusBadRequest},
		{function.Rejectf("wrong type"), http.StatusBadRequest},
		{fmt.Errorf("reserve: %w", apperr.Errorf(apperr.Invalid, "wrapped")), http.StatusBadRequest},
		{errors.New("connection refused"), http.StatusInternalServerError},
		{apperr.Errorf(apperr.Internal, "oops"), http.StatusInternalServerError},
	} {
		f := &echo{err: c.err}
		if w := f.post(t, binaryEvent(`{}`)); w.Code != c.status {
			t.Errorf("%v: status %d, want %d", c.err, w.Code, c.status)
		}
	}
}

func TestReadinessReflectsTheFunction(t *testing.T) {
	f := &echo{ready: errors.New("database down")}
	if w := f.post(t, httptest.NewRequest("GET", "/health/readiness", nil)); w.Code != http.StatusServiceUnavailable {
		t.Errorf("not ready: %d, want 503", w.Code)
	}
	f.ready = nil
	if w := f.post(t, httptest.NewRequest("GET", "/health/readiness", nil)); w.Code != http.StatusOK {
		t.Errorf("ready: %d, want 200", w.Code)
	}
	if w := f.post(t, httptest.NewRequest("GET", "/health/liveness", nil)); w.Code != http.StatusOK {
		t.Errorf("liveness: %d, want 200", w.Code)
	}
}

func TestUnknownRoutesAndMethodsAreJSONErrors(t *testing.T) {
	f := &echo{}
	for _, c := range []struct {
		req    *http.Request
		status int
		allow  string
	}{
		{httptest.NewRequest("GET", "/orderz", nil), http.StatusNotFound, ""},
		{httptest.NewRequest("DELETE", "/health/liveness", nil), http.StatusMethodNotAllowed, "GET, HEAD"},
		{httptest.NewRequest("GET", "/", nil), http.StatusMethodNotAllowed, "POST"},
	} {
		w := f.post(t, c.req)
		if w.Code != c.status || w.Header().Get("Content-Type") != "application/json" || !strings.Contains(w.Body.String(), `"error"`) ||
			w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d %q Allow %q %s, want a JSON %d with Allow %q", c.req.Method, c.req.URL.Path, w.Code,
				w.Header().Get("Content-Type"), w.Header().Get("Allow"), w.Body, c.status, c.allow)
		}
	}
}

func TestReadinessDoesNotRevealItsCause(t *testing.T) {
	f := &echo{ready: errors.New("dial tcp 10.0.0.7:5432: user=orders")}
	w := f.post(t, httptest.NewRequest("GET", "/health/readiness", nil))
	if strings.Contains(w.Body.String(), "10.0.0.7") || strings.Contains(w.Body.String(), "orders") {
		t.Errorf("readiness body %q reveals the cause", w.Body)
	}
}

func TestABareInvalidErrorFromHandleIsA400ThatIsNotRetried(t *testing.T) {
	f := &echo{err: apperr.Errorf(apperr.Invalid, "quantity must be positive")}
	w := f.post(t, binaryEvent(`{}`))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "quantity must be positive") {
		t.Errorf("got %d %q, want 400 with the message", w.Code, w.Body)
	}
}

func TestAServerErrorDoesNotRevealItsCause(t *testing.T) {
	f := &echo{err: errors.New("dial tcp 10.0.0.7:5432")}
	w := f.post(t, binaryEvent(`{}`))
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "10.0.0.7") {
		t.Errorf("got %d %q, want 500 without the cause", w.Code, w.Body)
	}
}

// restOnly is a function with REST routes and no event handler, like the user function.
type restOnly struct{}

func (restOnly) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
}

func TestAFunctionWithoutHandleHasNoEventEndpoint(t *testing.T) {
	h := function.NewHandler(restOnly{})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, binaryEvent(`{}`))
	if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("POST /: %d %q %s, want a JSON 404", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/hello", nil))
	if w.Code != http.StatusNoContent {
		t.Errorf("GET /hello: %d, want its route's 204", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/health/readiness", nil))
	if w.Code != http.StatusOK {
		t.Errorf("readiness of a function that is not a Readier: %d, want 200", w.Code)
	}
}

func TestCheckRefusesAValueThatServesNothing(t *testing.T) {
	if err := function.Check(struct{}{}); err == nil {
		t.Error("Check accepted a value with neither Handle nor Routes")
	}
	if err := function.Check(restOnly{}); err != nil {
		t.Errorf("Check refused a RouteRegistrar: %v", err)
	}
	if err := function.Check(&echo{}); err != nil {
		t.Errorf("Check refused an EventHandler: %v", err)
	}
}

// ownReadiness serves its own readiness probe, as the gateway does.
type ownReadiness struct{}

func (ownReadiness) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /health/readiness", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
}

func TestAFunctionsOwnReadinessRouteReplacesTheRuntimes(t *testing.T) {
	w := httptest.NewRecorder()
	function.NewHandler(ownReadiness{}).ServeHTTP(w, httptest.NewRequest("GET", "/health/readiness", nil))
	if w.Code != http.StatusTeapot {
		t.Errorf("readiness: %d, want the function's own 418", w.Code)
	}
}

// The event endpoint with sender authentication: no token or a bad one is 401, a good token of
// a sender not allowed 403, and in neither case does Handle run.
func TestEventEndpointAuthenticatesTheSender(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	iss, err := eventauth.NewIssuer("http://127.0.0.1:1", key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "issuer.pub")
	if err := os.WriteFile(keyFile, auth.EncodePublicKeyPEM(key.Public().(ed25519.PublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	const aud, trigger = "serving.knative.dev/service/ordersaga/shipping", "system:serviceaccount:ordersaga:shipping-order-accepted-oidc-eventing.knative.dev-trigger"
	v, err := eventauth.Config{Issuer: iss.URL(), Audience: aud, Senders: []string{trigger}, PublicKeyFile: keyFile}.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	token := func(sub, aud string) string {
		tok, _, err := iss.Token(sub, aud, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	for name, c := range map[string]struct {
		header string
		status int
	}{
		"no token":          {"", http.StatusUnauthorized},
		"garbage":           {"Bearer x.y.z", http.StatusUnauthorized},
		"wrong audience":    {token(trigger, "eventing.knative.dev/broker/ordersaga/default"), http.StatusUnauthorized},
		"another sender":    {token("system:serviceaccount:ordersaga:default", aud), http.StatusForbidden},
		"allowed sender":    {token(trigger, aud), http.StatusOK},
		"basic, not bearer": {"Basic dTpw", http.StatusUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			f := &echo{}
			req := binaryEvent(`{"order_id":"o"}`)
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			w := httptest.NewRecorder()
			function.NewHandler(f, v).ServeHTTP(w, req)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, c.status, w.Body)
			}
			if handled := f.got > 0; handled != (c.status == http.StatusOK) {
				t.Fatalf("handled %d times with status %d", f.got, w.Code)
			}
		})
	}
}

func TestEventEndpointCapsIDAndSource(t *testing.T) {
	long := strings.Repeat("x", function.MaxAttributeBytes+1)
	for _, attr := range []string{"Ce-Id", "Ce-Source"} {
		f := &echo{}
		req := binaryEvent(`{"order_id":"o"}`)
		req.Header.Set(attr, long)
		if w := f.post(t, req); w.Code != http.StatusBadRequest || f.got != 0 {
			t.Errorf("%s of %d bytes: %d, handled %d times; want 400, not handled", attr, len(long), w.Code, f.got)
		}
	}
	f := &echo{}
	req := binaryEvent(`{"order_id":"o"}`)
	req.Header.Set("Ce-Id", long[:function.MaxAttributeBytes])
	if w := f.post(t, req); w.Code != http.StatusOK {
		t.Errorf("id of exactly the cap: %d", w.Code)
	}
}

// With no traces exported (no OTEL_* endpoint), trace context still passes from an event to its
// reply, so a trace started upstream is not cut here; and every function serves its metrics.
func TestTraceContextPassesThroughAndMetricsAreServed(t *testing.T) {
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req := binaryEvent(`{"order_id":"o"}`)
	req.Header.Set("Ce-Traceparent", traceparent)
	h := function.NewHandler(freshReply{})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK || w.Header().Get("Ce-Id") != "fresh" || w.Header().Get("Ce-Traceparent") != traceparent {
		t.Errorf("reply %d %q with ce-traceparent %q, want %q", w.Code, w.Header().Get("Ce-Id"), w.Header().Get("Ce-Traceparent"), traceparent)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `ordersaga_events_handled_total{type="ORDER_SHIPPED",outcome="ok"}`) {
		t.Errorf("GET /metrics: %d, no ORDER_SHIPPED handled in\n%s", w.Code, w.Body)
	}
}

// freshReply answers every event with a new event of its own, which carries no traceparent.
type freshReply struct{}

func (freshReply) Handle(context.Context, cloudevents.Event) (*cloudevents.Event, error) {
	r := cloudevents.NewEvent()
	r.SetID("fresh")
	r.SetSource("test")
	r.SetType("ORDER_COMPLETED")
	return &r, nil
}
