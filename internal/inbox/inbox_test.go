package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
	"github.com/ordersaga/ordersaga/internal/inbox"
	"github.com/ordersaga/ordersaga/internal/postgres"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

func newPool(t *testing.T) *pgxpool.Pool {
	url := pgtest.NewSchema(t, "ordersaga_inbox_test", "inboxtest")
	pool, err := postgres.Connect(context.Background(), url, "inboxtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := inbox.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `CREATE TABLE effects (n int)`); err != nil {
		t.Fatal(err)
	}
	return pool
}

func count(t *testing.T, pool *pgxpool.Pool, table string) int {
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAFailedHandlerLeavesNoTraceAndRunsAgainOnRedelivery(t *testing.T) {
	pool := newPool(t)
	e := eventstest.New(t, events.SourceShipping, events.OrderShippedV1{OrderID: "o-1", TrackingID: "T"})
	calls := 0
	handle := func(fail bool) inbox.HandleFunc {
		return func(ctx context.Context, tx postgres.DBTX) (*cloudevents.Event, error) {
			if _, err := tx.Exec(ctx, `INSERT INTO effects VALUES (1)`); err != nil {
				return nil, err // a duplicate's claim ends it here
			}
			calls++
			if fail { // after the claim and the effect: both must roll back
				return nil, errors.New("transient")
			}
			return events.Reply(e, events.SourceOrder, events.OrderCompletedV1{OrderID: "o-1", Items: []events.Line{{SKU: "A", Quantity: 1}}})
		}
	}
	if _, err := inbox.Process(context.Background(), pool, e, handle(true)); err == nil {
		t.Fatal("the failing handler's error was lost")
	}
	if count(t, pool, "inbox") != 0 || count(t, pool, "effects") != 0 {
		t.Fatal("a failed delivery left its claim or its effect behind")
	}
	first, err := inbox.Process(context.Background(), pool, e, handle(false))
	if err != nil || first == nil {
		t.Fatalf("redelivery: %v, %v", first, err)
	}
	again, err := inbox.Process(context.Background(), pool, e, handle(false))
	if err != nil || again == nil || again.ID() != first.ID() || string(again.Data()) != string(first.Data()) {
		t.Fatalf("third delivery = %v, %v; want the stored reply %s", again, err, first.ID())
	}
	if calls != 2 || count(t, pool, "effects") != 1 {
		t.Errorf("handler got past its first statement %d times with %d effects; want 2 (failed, then once) and 1 effect", calls, count(t, pool, "effects"))
	}
}

// Unordered delivery lets a duplicate (a redelivery, a republished deadline event) reach a
// function while its original is still being handled: the duplicates wait on the first claim and
// then get its stored reply, so the effect happens once and every caller sees the same reply.
func TestConcurrentDuplicatesTakeEffectOnceAndShareTheReply(t *testing.T) {
	pool := newPool(t)
	e := eventstest.New(t, events.SourceShipping, events.OrderShippedV1{OrderID: "o-2", TrackingID: "T"})
	var calls atomic.Int32
	claimed := make(chan struct{})
	release := make(chan struct{})
	handle := func(ctx context.Context, tx postgres.DBTX) (*cloudevents.Event, error) {
		// The first statement carries the claim: a duplicate's waits here for the first's commit.
		if _, err := tx.Exec(ctx, `INSERT INTO effects VALUES (1)`); err != nil {
			return nil, err
		}
		if calls.Add(1) == 1 {
			close(claimed)
			<-release // hold the claim open while the duplicates arrive
		}
		return events.Reply(e, events.SourceOrder, events.OrderCompletedV1{OrderID: "o-2", Items: []events.Line{{SKU: "A", Quantity: 1}}})
	}
	const deliveries = 3 // within the pool's connections (4 on 2 cores), so none waits for one
	replies := make(chan *cloudevents.Event, deliveries)
	errs := make(chan error, deliveries)
	deliver := func() {
		reply, err := inbox.Process(context.Background(), pool, e, handle)
		replies <- reply
		errs <- err
	}
	go deliver()
	<-claimed
	for range deliveries - 1 {
		go deliver()
	}
	// The duplicates are now blocked on the first claim's row (or about to be): let it commit.
	waitForLockWaiters(t, pool, deliveries-1)
	close(release)
	var first *cloudevents.Event
	for range deliveries {
		reply, err := <-replies, <-errs
		if err != nil || reply == nil {
			t.Fatalf("delivery: %v, %v", reply, err)
		}
		if first == nil {
			first = reply
		}
		if reply.ID() != first.ID() || string(reply.Data()) != string(first.Data()) {
			t.Errorf("reply %s %s differs from %s %s", reply.ID(), reply.Data(), first.ID(), first.Data())
		}
	}
	if calls.Load() != 1 || count(t, pool, "effects") != 1 {
		t.Errorf("handler got past its first statement %d times with %d effects; want once", calls.Load(), count(t, pool, "effects"))
	}
}

// waitForLockWaiters waits until n sessions of pool's database wait on a lock. It asks on a
// connection of its own: the pool's may all be taken by the waiters.
func waitForLockWaiters(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	conn, err := pgx.ConnectConfig(context.Background(), pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions wait on a lock, want %d", waiting, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHandleRefusesEventsPostgreSQLCannotStore(t *testing.T) {
	pool := newPool(t)
	nul := eventstest.New(t, events.SourceShipping, events.OrderShippedV1{OrderID: "o-1", TrackingID: "T"})
	nul.SetID("id\x00")
	badUTF8 := eventstest.New(t, events.SourceShipping, events.OrderShippedV1{OrderID: "o-1", TrackingID: "T"})
	badUTF8.SetID("id\xff")
	apply := func(context.Context, postgres.DBTX, cloudevents.Event, events.OrderShippedV1) (*cloudevents.Event, error) {
		t.Error("handler ran for an event that cannot be stored")
		return nil, nil
	}
	for _, e := range []cloudevents.Event{nul, badUTF8} {
		if _, err := inbox.Handle(context.Background(), pool, e, apply); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("id %q source %q: %v, want ErrInvalid", e.ID(), e.Source(), err)
		}
	}
}

func TestPruneForgetsOnlyOldEvents(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	for i, age := range []string{"20 days", "16 days", "1 hour", "0"} {
		if _, err := pool.Exec(ctx, `INSERT INTO inbox (source, id, type, handled_at) VALUES ('s', $1, 'T', now() - $2::interval)`,
			fmt.Sprint(i), age); err != nil {
			t.Fatal(err)
		}
	}
	n, err := inbox.Prune(ctx, pool, inbox.Retention)
	if err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want the 2 events older than %s", n, err, inbox.Retention)
	}
	if left := count(t, pool, "inbox"); left != 2 {
		t.Errorf("%d events left, want the 2 recent ones", left)
	}
}
