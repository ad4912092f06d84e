package deadletter

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/ordersaga/ordersaga/internal/auth/authtest"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

// fixture is the dead-letter function on its own database, with a clock the test moves and a
// broker ingress (K_SINK) that records what reaches it.
type fixture struct {
	fn    *Function
	keys  *authtest.Keys
	clock *clock
	sink  *recorder
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	sink := newRecorder(tb)
	keys := authtest.NewKeys(tb)
	cfg := Config{
		DatabaseURL: pgtest.NewSchema(tb, "ordersaga_deadletter", Schema),
		Sink:        sink.srv.URL,
		Config:      keys.Config(),
		Redrive: RedriveConfig{
			Initial: 5 * time.Second, MaxBackoff: time.Minute, Window: 24 * time.Hour,
			Interval: time.Hour, Timeout: 10 * time.Second, Retention: 30 * 24 * time.Hour,
		},
	}
	fn, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(fn.Close)
	c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	fn.now = c.now
	return &fixture{fn: fn, keys: keys, clock: c, sink: sink}
}

// clock is a time that moves only when the test says so.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder is an HTTP endpoint that records the CloudEvents posted to it.
type recorder struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []cloudevents.Event
}

func newRecorder(tb testing.TB) *recorder {
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		e, err := binding.ToEvent(req.Context(), cehttp.NewMessageFromHttpRequest(req))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, *e)
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	tb.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) events() []cloudevents.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cloudevents.Event(nil), r.got...)
}

// subscriber is a saga function's stand-in: while down it answers 503 to everything, its
// readiness included; up, it takes events and replies with a TRANSACTION_COMPLETED.
type subscriber struct {
	srv      *httptest.Server
	mu       sync.Mutex
	down     bool
	refuse   bool // answer 400 to events (ready all the same)
	received []cloudevents.Event
}

func newSubscriber(tb testing.TB) *subscriber {
	s := &subscriber{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/readiness", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if s.refuse {
			http.Error(w, "invalid event: no", http.StatusBadRequest)
			return
		}
		e, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.received = append(s.received, *e)
		reply := cloudevents.NewEvent()
		reply.SetID("reply-" + e.ID())
		reply.SetSource("ordersaga/payment")
		reply.SetType("TRANSACTION_COMPLETED")
		reply.SetSubject(e.Subject())
		_ = reply.SetData(cloudevents.ApplicationJSON, map[string]string{"order_id": e.Subject()})
		_ = cehttp.WriteResponseWriter(r.Context(), binding.ToMessage(&reply), http.StatusOK, w)
	})
	s.srv = httptest.NewServer(mux)
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *subscriber) set(down, refuse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down, s.refuse = down, refuse
}

func (s *subscriber) events() []cloudevents.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]cloudevents.Event(nil), s.received...)
}

// deadLetter is event id of type typ for order, as a Trigger dead-letters it for destination
// after the subscriber's last answer code.
func deadLetter(id, typ, order, destination string, code int) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetSource("ordersaga/inventory")
	e.SetType(typ)
	e.SetSubject(order)
	e.SetExtension("partitionkey", order)
	_ = e.SetData(cloudevents.ApplicationJSON, map[string]any{"order_id": order, "total_cents": 1200})
	e.SetExtension(ExtErrorCode, strconv.Itoa(code))
	e.SetExtension(ExtErrorData, base64.StdEncoding.EncodeToString([]byte("answer "+strconv.Itoa(code))))
	e.SetExtension(ExtErrorDest, destination)
	return e
}

// receive hands e to Handle as the broker would and fails the test on an error.
func (f *fixture) receive(tb testing.TB, e cloudevents.Event) {
	tb.Helper()
	if reply, err := f.fn.Handle(context.Background(), e); reply != nil || err != nil {
		tb.Fatalf("Handle(%s) = %v, %v; want nil, nil", e.ID(), reply, err)
	}
}

// only returns the one dead letter matching filter.
func (f *fixture) only(tb testing.TB, filter Filter) DeadLetter {
	tb.Helper()
	all, err := store{db: f.fn.Pool}.List(context.Background(), filter, 10)
	if err != nil {
		tb.Fatal(err)
	}
	if len(all) != 1 {
		tb.Fatalf("%d dead letters match %+v, want 1", len(all), filter)
	}
	return all[0]
}
