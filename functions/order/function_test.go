package order

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ordersaga/ordersaga/internal/auth/authtest"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/kafka"
	"github.com/ordersaga/ordersaga/internal/kafka/kafkatest"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

const topic = "orders.events"

// fixture is an order function on its own database, an embedded Kafka broker and test keys.
type fixture struct {
	fn      *Function
	keys    *authtest.Keys
	brokers string
	server  *httptest.Server
	clock   *testClock
}

// testClock is the function's clock in tests: the real time moved on by what a test advances it,
// so deadlines pass without sleeping and orders still get increasing creation times.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// advance moves the clock on by d.
func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	url := pgtest.NewSchema(tb, "ordersaga_order", Schema)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cluster.Close)
	keys := authtest.NewKeys(tb)
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	clock := &testClock{}
	fn, err := Open(context.Background(), Config{
		DatabaseURL: url, Kafka: kafka.Config{Brokers: []string{brokers}}, KafkaTopic: topic, Auth: keys.Config(), Now: clock.now,
	})
	if err != nil {
		tb.Fatal(err)
	}
	server := httptest.NewServer(function.NewHandler(fn))
	tb.Cleanup(func() { server.Close(); fn.Close() })
	return &fixture{fn: fn, keys: keys, brokers: brokers, server: server, clock: clock}
}

// published reads every CloudEvent on the topic so far.
func (fx *fixture) published(tb testing.TB) []cloudevents.Event {
	tb.Helper()
	return kafkatest.Published(tb, []string{fx.brokers}, topic)
}

// do sends an HTTP request to the function with an optional bearer token and extra headers.
func (fx *fixture) do(tb testing.TB, method, path, token, body string, headers ...string) *http.Response {
	tb.Helper()
	req, err := http.NewRequest(method, fx.server.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (fx *fixture) countRows(tb testing.TB, table string) int {
	tb.Helper()
	var n int
	if err := fx.fn.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}
