// Package function is the runtime every saga function shares, in the shape of knative/func's Go
// templates: a function is built by New and reacts to events in Handle. This package serves it:
// CloudEvents over HTTP on POST /, the function's REST routes, readiness and liveness probes, and
// graceful shutdown on SIGTERM (what Knative sends before scaling a pod away).
package function

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/eventauth"
	"github.com/ordersaga/ordersaga/internal/httpapi"
	"github.com/ordersaga/ordersaga/internal/telemetry"
)

// Function is a saga function: a value that implements one or more of the optional interfaces
// below, and nothing it does not need. The runtime serves what it finds: POST / only for an
// EventHandler, REST routes only for a RouteRegistrar, and so on.
type Function = any

// EventHandler is a function that reacts to events.
type EventHandler interface {
	// Handle reacts to one event and returns the reply to publish, if any. Errors are returned
	// as they are; the runtime applies the retry contract (see EventStatus): an apperr Invalid,
	// NotFound or Conflict, or events.ErrInvalid, for an event that can never succeed (400, not
	// retried), any other error for a transient failure (500, retried).
	Handle(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error)
}

// RouteRegistrar is a function with REST endpoints.
type RouteRegistrar interface {
	// Routes adds the function's REST endpoints to mux. A route for GET /health/readiness
	// replaces the runtime's own readiness probe (the gateway reports its upstreams there).
	Routes(mux *http.ServeMux)
}

// Readier is a function that depends on something that can be down (its database). A function
// that is not a Readier is always ready.
type Readier interface {
	// Ready reports whether the function can serve. Its error goes to the log only: it may
	// name hosts and roles.
	Ready(ctx context.Context) error
}

// Closer is a function with resources to release once the server has drained.
type Closer interface {
	Close()
}

// Maintainer is a function with housekeeping (pruning its inbox) to run in the background while
// it is up; Main calls Maintain once and cancels its context on shutdown.
type Maintainer interface {
	Maintain(ctx context.Context)
}

// Check reports a function that serves nothing: since Function is any, this is where a value
// that implements neither EventHandler nor RouteRegistrar (a wrong return in a main) is caught.
func Check(fn Function) error {
	switch fn.(type) {
	case EventHandler, RouteRegistrar:
		return nil
	}
	return fmt.Errorf("%T is not a function: it has neither Handle nor Routes", fn)
}

// Close closes fn if it is a Closer.
func Close(fn Function) {
	if c, ok := fn.(Closer); ok {
		c.Close()
	}
}

// Ready reports whether fn can serve: fn's own Ready if it is a Readier, nil otherwise.
func Ready(ctx context.Context, fn Function) error {
	if r, ok := fn.(Readier); ok {
		return r.Ready(ctx)
	}
	return nil
}

// Main runs the function that build makes until SIGTERM or SIGINT, then drains in-flight
// requests and closes it. It is the whole of each function's main(). It serves on the socket
// its supervisor passed, or on PORT (Knative sets it), 8080 by default: see listen.
func Main(name string, build func(ctx context.Context) (Function, error)) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("function", name))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, name, build); err != nil {
		slog.Error("function stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, name string, build func(ctx context.Context) (Function, error)) error {
	started := time.Now()
	stopTracing, err := telemetry.StartTracing(name)
	if err != nil {
		return err
	}
	defer func() {
		flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(flush); err != nil {
			slog.Warn("flushing traces", "err", err)
		}
	}()
	fn, err := build(ctx)
	if err != nil {
		return err
	}
	defer Close(fn)
	if err := Check(fn); err != nil {
		return err
	}
	if m, ok := fn.(Maintainer); ok {
		go m.Maintain(ctx)
	}
	verifier, err := EventVerifier(fn)
	if err != nil {
		return err
	}
	if verifier == nil {
		if _, ok := fn.(EventHandler); ok {
			slog.Warn("EVENT_AUTH=off: events are accepted from any sender")
		}
	}
	ln, err := listen()
	if err != nil {
		return err
	}
	srv := httpapi.NewServer(NewHandler(fn, verifier))
	slog.Info("ready", "addr", ln.Addr().String(), "startup_ms", time.Since(started).Milliseconds())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// NewHandler routes HTTP for fn: events on POST / if fn is an EventHandler, its REST routes if it
// is a RouteRegistrar, the probes under /health/, and its metrics on GET /metrics (Prometheus'
// text format) unless its routes take that path; with a span per event and per REST request
// (internal/telemetry). A function without Handle has no event endpoint at all: POST / is a JSON
// 404 or 405 like any other path it does not serve. Events are taken only from the senders
// senders accepts; with no verifier (tests of REST routes, EVENT_AUTH=off) from anyone.
func NewHandler(fn Function, senders ...*eventauth.Verifier) http.Handler {
	mux := http.NewServeMux()
	if h, ok := fn.(EventHandler); ok {
		eh := &eventHandler{fn: h}
		for _, v := range senders {
			if v != nil {
				eh.auth = v
			}
		}
		mux.Handle("POST /{$}", eh)
	}
	if r, ok := fn.(RouteRegistrar); ok {
		r.Routes(mux)
	}
	mux.HandleFunc("GET /health/liveness", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	if !serves(mux, http.MethodGet, "/health/readiness") {
		mux.HandleFunc("GET /health/readiness", func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := Ready(ctx, fn); err != nil {
				// The cause goes to the log only: it names hosts and roles.
				slog.WarnContext(ctx, "not ready", "err", err)
				httpapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "not ready"})
				return
			}
			w.WriteHeader(http.StatusOK)
		})
	}
	if !serves(mux, http.MethodGet, "/metrics") {
		mux.Handle("GET /metrics", telemetry.MetricsHandler())
	}
	return telemetry.HTTP(jsonMuxErrors(mux))
}

// serves reports whether mux already has a route for method and path.
func serves(mux *http.ServeMux, method, path string) bool {
	_, pattern := mux.Handler(&http.Request{Method: method, URL: &url.URL{Path: path}, Host: ""})
	return pattern != ""
}

// jsonMuxErrors answers what mux itself refuses (an unknown path: 404; a known path with another
// method: 405 with Allow) in JSON, like every other error of the REST API.
func jsonMuxErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		refusal := &statusOnly{header: http.Header{}}
		h.ServeHTTP(refusal, r) // the mux's own 404 or 405 handler: keep its status and Allow
		if allow := refusal.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		httpapi.WriteJSON(w, refusal.status, map[string]string{"error": fmt.Sprintf("%s %s: %s", r.Method, r.URL.Path, strings.ToLower(http.StatusText(refusal.status)))})
	})
}

// statusOnly records a handler's status and headers and drops its body.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(status int)      { s.status = status }
