package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/gateway"
)

// srvURL is each backend's URL, by name.
var srvURL = map[string]string{}

// backend answers with its own name, so a test sees where a request went, and checks that the
// request carries the backend's own Host (Knative's ingress routes by it).
func backend(t *testing.T, name string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want := strings.TrimPrefix(srvURL[name], "http://"); r.Host != want {
			t.Errorf("%s got Host %q, want the function's own %q", name, r.Host, want)
		}
		_, _ = io.WriteString(w, name+" "+r.Method+" "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	srvURL[name] = srv.URL
	return srv.URL
}

func get(t *testing.T, h http.Handler, method, path string) (int, string) {
	w := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader("{}"))
	req.Host = "gateway.ordersaga.example.com" // the public name
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func TestAnUnreachableFunctionIsAJSON502(t *testing.T) {
	h, err := gateway.Handler(map[string]string{"user": "http://127.0.0.1:1", "order": "http://127.0.0.1:1", "inventory": "http://127.0.0.1:1", "deadletter": "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, h, "GET", "/orders"); code != http.StatusBadGateway || !strings.Contains(body, `"error"`) {
		t.Errorf("GET /orders with order down: %d %q, want a JSON 502", code, body)
	}
}

func TestRESTPathsReachTheirFunctionAndNothingElseDoes(t *testing.T) {
	h, err := gateway.Handler(map[string]string{"user": backend(t, "user"), "order": backend(t, "order"), "inventory": backend(t, "inventory"), "deadletter": backend(t, "deadletter")})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/login": "user POST /login", "/.well-known/jwks.json": "user POST /.well-known/jwks.json",
		"/orders": "order POST /orders", "/orders/42": "order POST /orders/42", "/items/BOOK-1": "inventory POST /items/BOOK-1",
		"/deadletters/replay": "deadletter POST /deadletters/replay",
	} {
		if code, body := get(t, h, "POST", path); code != 200 || body != want {
			t.Errorf("POST %s: %d %q, want %q", path, code, body, want)
		}
	}
	// The CloudEvents endpoint of every function is POST /: the gateway must not reach it.
	for _, path := range []string{"/", "/health/readiness", "/orderz", "/metrics"} {
		if code, body := get(t, h, "POST", path); code != http.StatusNotFound || !strings.Contains(body, `"error"`) {
			t.Errorf("POST %s: %d %q, want a JSON 404", path, code, body)
		}
	}
}

func TestTheGatewayFunctionRefusesEvents(t *testing.T) {
	t.Setenv("USER_URL", backend(t, "user"))
	t.Setenv("ORDER_URL", backend(t, "order"))
	t.Setenv("INVENTORY_URL", backend(t, "inventory"))
	t.Setenv("DEADLETTER_URL", backend(t, "deadletter"))
	fn, err := gateway.New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	h := function.NewHandler(fn)
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"order_id":"o"}`))
	for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "1", "Ce-Source": "x", "Ce-Type": "TRANSACTION_COMPLETED", "Content-Type": "application/json"} {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusNotFound {
		t.Errorf("event to the gateway: %d, want 404 (no event endpoint)", w.Code)
	}
	if code, body := get(t, h, "GET", "/orders"); code != 200 || body != "order GET /orders" {
		t.Errorf("GET /orders: %d %q", code, body)
	}
	// The runtime serves every function's metrics on GET /metrics; not the public gateway's.
	if code, body := get(t, h, "GET", "/metrics"); code != http.StatusNotFound || !strings.Contains(body, `"error"`) {
		t.Errorf("GET /metrics on the gateway: %d %q, want a JSON 404", code, body)
	}
}

// On a cluster the gateway runs in the functions' runtime, which gives each REST request a
// span: the function behind it gets that span as its parent, in the traceparent header.
func TestTheGatewayPassesItsTraceOn(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	previous := otel.GetTracerProvider()
	otel.SetTracerProvider(provider)
	t.Cleanup(func() { otel.SetTracerProvider(previous) })
	var got string
	order := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("traceparent") }))
	t.Cleanup(order.Close)
	t.Setenv("USER_URL", order.URL)
	t.Setenv("ORDER_URL", order.URL)
	t.Setenv("INVENTORY_URL", order.URL)
	t.Setenv("DEADLETTER_URL", order.URL)
	fn, err := gateway.New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, function.NewHandler(fn), "GET", "/orders"); code != http.StatusOK {
		t.Fatalf("GET /orders: %d", code)
	}
	recorded := spans.GetSpans()
	if len(recorded) != 1 {
		t.Fatalf("%d spans, want the request's", len(recorded))
	}
	sc := recorded[0].SpanContext
	if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; got != want {
		t.Errorf("the order function got traceparent %q, want the gateway's span %q", got, want)
	}
}

func TestNewRequiresEveryFunctionURL(t *testing.T) {
	t.Setenv("USER_URL", "")
	t.Setenv("ORDER_URL", "http://order")
	t.Setenv("INVENTORY_URL", "http://inventory")
	t.Setenv("DEADLETTER_URL", "http://deadletter")
	if _, err := gateway.New(t.Context()); err == nil {
		t.Error("New succeeded without USER_URL")
	}
}
