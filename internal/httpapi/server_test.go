package httpapi_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// serve runs srv on a loopback port until the test ends and returns its address.
func serve(t *testing.T, srv *http.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

func ok() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
}

func TestNewServerHasEveryLimit(t *testing.T) {
	srv := httpapi.NewServer(ok())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s = %v, want a limit", name, d)
		}
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes >= http.DefaultMaxHeaderBytes {
		t.Errorf("MaxHeaderBytes = %d, want a limit below net/http's default", srv.MaxHeaderBytes)
	}
	if srv.WriteTimeout <= httpapi.LongestRequest {
		t.Errorf("WriteTimeout %v would cut the longest legitimate request (%v)", srv.WriteTimeout, httpapi.LongestRequest)
	}
}

// A client that trickles its headers (Slowloris) is disconnected once ReadHeaderTimeout has
// passed, long before it has sent them all. The timeout is shortened so the test is quick; the
// behaviour is net/http's for any value.
func TestSlowHeadersAreDisconnected(t *testing.T) {
	srv := httpapi.NewServer(ok())
	srv.ReadHeaderTimeout = 200 * time.Millisecond
	conn, err := net.Dial("tcp", serve(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(conn) // returns when the server closes the connection
		closed <- err
	}()
	// 400 bytes at 25 ms each would take 10 s: 50 times the timeout.
	request := "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + strings.Repeat("a", 400) + "\r\n\r\n"
	for i := 0; i < len(request); i++ {
		select {
		case <-closed:
			return // disconnected before the headers were complete
		case <-time.After(25 * time.Millisecond):
		}
		if _, err := conn.Write([]byte{request[i]}); err != nil {
			return // the server hung up: the write failed
		}
	}
	t.Fatal("the server waited for headers sent slower than its ReadHeaderTimeout")
}

// A client that sends a request body slowly is cut off by ReadTimeout: the handler's read fails.
func TestSlowBodyIsCutOff(t *testing.T) {
	readErr := make(chan error, 1)
	srv := httpapi.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	}))
	srv.ReadTimeout = 300 * time.Millisecond
	conn, err := net.Dial("tcp", serve(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 400\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 400; i++ {
		select {
		case err := <-readErr:
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("the handler's read ended with %v, want a timeout", err)
			}
			return
		case <-time.After(25 * time.Millisecond):
		}
		if _, err := conn.Write([]byte{'x'}); err != nil {
			break
		}
	}
	if err := <-readErr; err == nil {
		t.Fatal("the handler read a body sent slower than ReadTimeout allows")
	}
}

func TestOversizedHeadersAre431(t *testing.T) {
	conn, err := net.Dial("tcp", serve(t, httpapi.NewServer(ok())))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	big := strings.Repeat("a", 2*httpapi.MaxHeaderBytes)
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: "+big+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
	// Headers within the limit are served.
	resp, err = http.Get("http://" + serve(t, httpapi.NewServer(ok())) + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("ordinary request: status %d", resp.StatusCode)
	}
}
