package local

import (
	"context"
	"crypto/ed25519"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"

	"github.com/ordersaga/ordersaga/internal/eventauth"
)

// A PingSource's tick reaches its sink as Knative's ping adapter sends it: a binary-mode
// dev.knative.sources.ping event with the PingSource's data, signed as the PingSource.
func TestPingSourceSendsItsEventAsItself(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := eventauth.NewIssuer("http://issuer.test", key)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *http.Request, 1)
	bodies := make(chan string, 1)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case got <- r:
			bodies <- string(body)
		default:
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	source := &sourcesv1.PingSource{ObjectMeta: metav1.ObjectMeta{Namespace: "ordersaga", Name: "outbox-sweep"},
		Spec: sourcesv1.PingSourceSpec{Schedule: "@every 1s", Data: `{"sweep":"outbox"}`}}
	identity := "system:serviceaccount:ordersaga:outbox-sweep"
	p := &pingSource{source: source, sink: sink.URL, audience: "serving.knative.dev/service/ordersaga/order",
		tokens: eventauth.NewMinter(issuer, identity, senderTokenTTL)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	r := <-got
	body := <-bodies
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("Ce-Type") != "dev.knative.sources.ping" || r.Header.Get("Ce-Source") != "/apis/v1/namespaces/ordersaga/pingsources/outbox-sweep" ||
		r.Header.Get("Ce-Id") == "" || body != `{"sweep":"outbox"}` {
		t.Fatalf("ping: headers %v, body %q", r.Header, body)
	}
	claims := jwt.MapClaims{}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if _, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return key.Public(), nil }); err != nil {
		t.Fatalf("token: %v", err)
	}
	if sub, _ := claims.GetSubject(); sub != identity {
		t.Errorf("token subject %q, want %q", sub, identity)
	}
	if aud, _ := claims.GetAudience(); len(aud) != 1 || aud[0] != "serving.knative.dev/service/ordersaga/order" {
		t.Errorf("token audience %v", aud)
	}
}
