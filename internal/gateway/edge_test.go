package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ordersaga/ordersaga/internal/gateway"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// reading is a backend that reads every body to the end, counts the requests that reach it, and
// answers 200 with the X-Forwarded-For it got.
func reading(t *testing.T, hits *atomic.Int64) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, r.Header.Get("X-Forwarded-For"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// servedGateway runs the local gateway on a real server (httpapi.NewServer, as the stack does)
// in front of one counting backend for every function.
func servedGateway(t *testing.T, hits *atomic.Int64) string {
	u := reading(t, hits)
	h, err := gateway.LocalHandler(map[string]string{"user": u, "order": u, "inventory": u, "deadletter": u}, "127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.NewServer(h)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

// jsonError reads resp's body as {"error": ...} and fails the test otherwise.
func jsonError(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var body struct{ Error string }
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want JSON", ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error == "" {
		t.Fatalf("body is not a JSON error: %v %+v", err, body)
	}
	return body.Error
}

// curl sends `Expect: 100-continue` above 1 MB and waits for the server's word before sending
// the body. The gateway must answer 413 at once: no "100 Continue", nothing forwarded.
func TestOversizedBodyWithExpectContinueIs413(t *testing.T) {
	var hits atomic.Int64
	conn, err := net.Dial("tcp", servedGateway(t, &hits))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /orders HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", 5<<20)
	// The first response on the wire, read raw: net/http's client would skip a 100.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("first response %d, want 413 (and no 100 Continue)", resp.StatusCode)
	}
	if msg := jsonError(t, resp); !strings.Contains(msg, "larger than") {
		t.Errorf("error %q does not say what is wrong", msg)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached a function", n)
	}
}

func TestOversizedChunkedBodyIs413(t *testing.T) {
	var hits atomic.Int64
	addr := servedGateway(t, &hits)
	// An io.Reader of unknown length: the client sends it chunked, with no Content-Length.
	body := io.MultiReader(strings.NewReader(strings.Repeat("x", 2*httpapi.MaxBodyBytes)))
	req, err := http.NewRequest("POST", "http://"+addr+"/orders", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if req.ContentLength != 0 {
		t.Fatalf("the request would not be chunked (Content-Length %d)", req.ContentLength)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	jsonError(t, resp)
}

func TestABodyWithinTheLimitIsForwarded(t *testing.T) {
	var hits atomic.Int64
	addr := servedGateway(t, &hits)
	resp, err := http.Post("http://"+addr+"/orders", "application/json", strings.NewReader(strings.Repeat(" ", httpapi.MaxBodyBytes-2)+"{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("status %d, %d requests forwarded; want 200 and 1", resp.StatusCode, hits.Load())
	}
}

// DNS rebinding: a page on evil.example resolving to 127.0.0.1 reaches the gateway with its own
// name in Host.
func TestLocalGatewayRefusesForeignHostNames(t *testing.T) {
	var hits atomic.Int64
	addr := servedGateway(t, &hits)
	_, port, _ := net.SplitHostPort(addr)
	do := func(host string) *http.Response {
		req, err := http.NewRequest("GET", "http://"+addr+"/orders", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, host := range []string{"evil.example", "evil.example:" + port, "localhost.evil.example", "127.0.0.1.nip.io:" + port} {
		resp := do(host)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("Host %q: status %d, want 400", host, resp.StatusCode)
		}
		jsonError(t, resp)
	}
	for _, host := range []string{"localhost", "LOCALHOST:" + port, "127.0.0.1:" + port, "[::1]:" + port, "192.0.2.7"} {
		resp := do(host)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Host %q: status %d, want 200", host, resp.StatusCode)
		}
	}
	if n := hits.Load(); n != 5 {
		t.Errorf("%d requests forwarded, want the 5 with local names", n)
	}
}

// The client cannot choose the address the user function's per-client limit sees.
func TestTheGatewayOverwritesXForwardedFor(t *testing.T) {
	var hits atomic.Int64
	addr := servedGateway(t, &hits)
	req, err := http.NewRequest("GET", "http://"+addr+"/orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if string(got) != "127.0.0.1" {
		t.Errorf("the function got X-Forwarded-For %q, want only the peer 127.0.0.1", got)
	}
}
