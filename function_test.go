package ordersaga

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/auth/authtest"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

func TestStartRefusesAnUnknownFunction(t *testing.T) {
	err := New().Start(context.Background(), map[string]string{FunctionEnv: "billing"})
	if err == nil || !strings.Contains(err.Error(), "want one of") {
		t.Errorf("Start(billing) = %v, want the list of functions", err)
	}
}

func TestInstanceServesTheNamedFunction(t *testing.T) {
	i := New()
	if ready, _ := i.Ready(context.Background()); ready {
		t.Error("ready before Start")
	}
	w := httptest.NewRecorder()
	i.Handle(w, httptest.NewRequest("GET", "/health/liveness", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("before Start: %d, want 503", w.Code)
	}
	// The dead-letter function, configured from the environment as on a cluster.
	t.Setenv("DATABASE_URL", pgtest.NewSchema(t, "ordersaga_deadletter", "deadletter"))
	t.Setenv("K_SINK", "http://127.0.0.1:9/")
	t.Setenv("AUTH_PUBLIC_KEY", authtest.NewKeys(t).Config().PublicKey)
	t.Setenv("EVENT_AUTH", "")
	if err := i.Start(context.Background(), map[string]string{FunctionEnv: "deadletter"}); err == nil || !strings.Contains(err.Error(), "EVENT_AUTH_ISSUER") {
		t.Fatalf("Start without sender authentication settings = %v, want an error naming them", err)
	}
	t.Setenv("EVENT_AUTH_ISSUER", "https://issuer.example")
	t.Setenv("EVENT_AUTH_AUDIENCE", "serving.knative.dev/service/ordersaga/deadletter")
	t.Setenv("EVENT_AUTH_SENDERS", "system:serviceaccount:ordersaga:somebody")
	if err := i.Start(context.Background(), map[string]string{FunctionEnv: "deadletter"}); err != nil {
		t.Fatal(err)
	}
	defer i.Stop(context.Background())
	if ready, err := i.Ready(context.Background()); !ready || err != nil {
		t.Errorf("Ready = %v, %v after Start", ready, err)
	}
	w = httptest.NewRecorder()
	i.Handle(w, httptest.NewRequest("GET", "/health/liveness", nil))
	if w.Code != http.StatusOK {
		t.Errorf("after Start: %d, want 200", w.Code)
	}
	// Its event endpoint wants the sender's token, as in function.Main.
	w = httptest.NewRecorder()
	i.Handle(w, httptest.NewRequest("POST", "/", strings.NewReader("{}")))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("POST / without a token: %d, want 401", w.Code)
	}
}
