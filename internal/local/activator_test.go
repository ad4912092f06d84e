package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A request held at zero (no instance will come here) whose caller gives up is let go, POSTs
// included: Go's server notices a client leaving only once the body is read, so the activator
// reads it first. Otherwise each timed-out event delivery would wait on, counted as load.
func TestHeldRequestsEndWhenTheirCallerLeaves(t *testing.T) {
	a := newActivator("nobody", 10, func() {})
	srv := httptest.NewServer(a)
	defer srv.Close()
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL, strings.NewReader(`{"event":"x"}`))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("%s at zero answered %s; want it held until the caller left", method, resp.Status)
		}
		cancel()
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.metrics.current() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests still held after their callers left", a.metrics.current())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// When the stack stops, a request still waiting for an instance gets 503 at once rather than
// holding the stack's shutdown until it times out.
func TestStoppedActivatorReleasesWaitingRequests(t *testing.T) {
	a := newActivator("nobody", 10, func() {})
	srv := httptest.NewServer(a)
	defer srv.Close()
	status := make(chan int, 1)
	go func() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	for a.metrics.current() == 0 { // the request is waiting
		time.Sleep(5 * time.Millisecond)
	}
	a.stop()
	if got := <-status; got != http.StatusServiceUnavailable {
		t.Fatalf("a waiting request after stop: %d, want 503", got)
	}
}
