package deadletter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/ordersaga/ordersaga/internal/eventauth"
)

// The courier sends its own token for each target, the subscriber's to the subscriber and the
// broker's with the reply, and sends nothing to a target it has no token for.
func TestCourierSendsItsTokenPerTarget(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{} // who → Authorization
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen["broker"] = r.Header.Get("Authorization")
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	subscriber := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen["subscriber"] = r.Header.Get("Authorization")
		mu.Unlock()
		reply := cloudevents.NewEvent()
		reply.SetID("reply-1")
		reply.SetSource("ordersaga/inventory")
		reply.SetType("INVENTORY_RESERVED")
		_ = cehttp.WriteResponseWriter(r.Context(), binding.ToMessage(&reply), http.StatusOK, w)
	}))
	defer subscriber.Close()
	stranger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen["stranger"] = r.Header.Get("Authorization")
		mu.Unlock()
	}))
	defer stranger.Close()

	dir := t.TempDir()
	write := func(name, token string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tokens := eventauth.TokenFiles{subscriber.URL + "/": write("sub", "tok-subscriber"), sink.URL + "/": write("broker", "tok-broker")}
	c := newCourier(sink.URL, 5*time.Second, tokens)

	e := cloudevents.NewEvent()
	e.SetID("e-1")
	e.SetSource("ordersaga/order")
	e.SetType("ORDER_REQUESTED")
	if d := c.deliver(context.Background(), e, subscriber.URL+"/"); d.err != nil {
		t.Fatalf("deliver: %v", d.err)
	}
	if d := c.deliver(context.Background(), e, stranger.URL+"/"); d.err == nil || d.answered {
		t.Fatalf("deliver to a target without a token: %+v", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["subscriber"] != "Bearer tok-subscriber" || seen["broker"] != "Bearer tok-broker" {
		t.Errorf("Authorization: %v", seen)
	}
	if _, ok := seen["stranger"]; ok {
		t.Error("the courier posted to a target it has no token for")
	}
}
