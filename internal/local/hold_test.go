package local

import (
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/function"
)

// helperFunctionEnv makes this test binary, run as a function process, serve helloFunction
// instead of running the tests (see TestMain).
const helperFunctionEnv = "ORDERSAGA_TEST_HELPER_FUNCTION"

func TestMain(m *testing.M) {
	if os.Getenv(helperFunctionEnv) == "1" {
		function.Main("hello", func(context.Context) (function.Function, error) { return helloFunction{}, nil })
		return
	}
	os.Exit(m.Run())
}

// helloFunction is a function with two routes: GET /hello, and GET /slow, which answers after
// 100 ms (requests in flight for the autoscaler to see). With HELLO_MAX_IN_FLIGHT set, /slow
// answers 503 to a request beyond that many at once.
type helloFunction struct{}

// slowInFlight counts the /slow requests being served.
var slowInFlight atomic.Int64

func (helloFunction) Routes(mux *http.ServeMux) {
	limit, _ := strconv.Atoi(os.Getenv("HELLO_MAX_IN_FLIGHT"))
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, _ *http.Request) {
		defer slowInFlight.Add(-1)
		if n := slowInFlight.Add(1); limit > 0 && n > int64(limit) {
			http.Error(w, "over capacity", http.StatusServiceUnavailable)
			return
		}
		time.Sleep(100 * time.Millisecond)
		io.WriteString(w, "hello")
	})
}

// A request that arrives while a function restarts waits for the next instance instead of being
// refused: the stack keeps the function's socket open across instances.
func TestRequestsWaitForARestartingFunction(t *testing.T) {
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := newProcess("hello", bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	p.env = []string{helperFunctionEnv + "=1"}
	p.log = io.Discard
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go p.supervise(ctx, &wg)
	t.Cleanup(func() { cancel(); wg.Wait() })
	ready, stop := context.WithTimeout(ctx, waitLimit)
	defer stop()
	if err := p.waitReady(ready); err != nil {
		t.Fatal(err)
	}

	client := &http.Client{Timeout: waitLimit, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 5 {
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		// Sent at once, while no instance is up: the supervisor restarts it after a back-off.
		resp, err := client.Get(p.url() + "/hello")
		if err != nil {
			t.Fatalf("kill %d: a request during the restart failed: %v", i+1, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "hello" {
			t.Fatalf("kill %d: %d %q, want 200 hello", i+1, resp.StatusCode, body)
		}
	}
}
