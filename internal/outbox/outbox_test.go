package outbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/postgres"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

// recorder is a Publisher that keeps what it is given, or fails while down is set. It refuses
// any batch holding the event with id refuse, as a broker refuses a record it cannot take, and
// counts those attempts.
type recorder struct {
	mu       sync.Mutex
	down     bool
	refuse   string
	refusals int
	got      []cloudevents.Event
}

func (r *recorder) Publish(_ context.Context, es ...cloudevents.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return errors.New("broker unreachable")
	}
	for _, e := range es {
		if e.ID() == r.refuse {
			r.refusals++
			return errors.New("record too large")
		}
	}
	r.got = append(r.got, es...)
	return nil
}

func newPool(t *testing.T) *pgxpool.Pool {
	url := pgtest.NewSchema(t, "ordersaga_outbox_test", "outboxtest")
	pool, err := postgres.Connect(context.Background(), url, "outboxtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := outbox.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

func add(t *testing.T, pool *pgxpool.Pool, n int) []cloudevents.Event {
	var out []cloudevents.Event
	for range n {
		e := eventstest.New(t, events.SourceOrder, events.OrderRequestedV1{OrderID: "o", UserID: "u", Items: []events.Line{{SKU: "A", Quantity: 1}}})
		if err := outbox.Add(context.Background(), pool, e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func unpublished(t *testing.T, pool *pgxpool.Pool) int {
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSweepPublishesWhatAnOutageLeftBehind(t *testing.T) {
	pool := newPool(t)
	pub := &recorder{down: true}
	relay := outbox.NewRelay(pool, pub)
	t.Cleanup(relay.Close)
	relay.MinAge = 0
	added := add(t, pool, 3)

	if err := relay.Publish(context.Background(), added[0]); err == nil {
		t.Fatal("Publish succeeded with the broker down")
	}
	if _, err := relay.Sweep(context.Background()); err == nil {
		t.Fatal("Sweep succeeded with the broker down")
	}
	if n := unpublished(t, pool); n != 3 {
		t.Fatalf("%d unpublished after failures, want all 3 kept", n)
	}

	pub.down = false
	n, err := relay.Sweep(context.Background())
	if err != nil || n != 3 {
		t.Fatalf("Sweep = %d, %v; want 3, nil", n, err)
	}
	if unpublished(t, pool) != 0 {
		t.Error("rows still unpublished after a successful sweep")
	}
	for i, e := range pub.got {
		if e.ID() != added[i].ID() || string(e.Data()) != string(added[i].Data()) {
			t.Errorf("published %d = %s, want %s byte for byte, oldest first", i, e.ID(), added[i].ID())
		}
	}
	if n, _ := relay.Sweep(context.Background()); n != 0 {
		t.Errorf("second sweep republished %d events", n)
	}
}

func TestSweepLeavesFreshRowsToTheirRequest(t *testing.T) {
	pool := newPool(t)
	pub := &recorder{}
	relay := outbox.NewRelay(pool, pub) // MinAge 2s: rows just added are the request's to publish
	t.Cleanup(relay.Close)
	add(t, pool, 2)
	if n, err := relay.Sweep(context.Background()); err != nil || n != 0 {
		t.Errorf("Sweep = %d, %v; want 0 fresh rows taken", n, err)
	}
}

func TestConcurrentSweepsPublishEachEventOnce(t *testing.T) {
	pool := newPool(t)
	pub := &recorder{}
	relay := outbox.NewRelay(pool, pub)
	t.Cleanup(relay.Close)
	relay.MinAge = 0
	add(t, pool, 50)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := relay.Sweep(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, e := range pub.got {
		seen[e.ID()]++
	}
	if len(seen) != 50 || len(pub.got) != 50 {
		t.Errorf("published %d events, %d distinct; want 50 each once", len(pub.got), len(seen))
	}
}

func TestPublishMarksTheRowPublishedByClose(t *testing.T) {
	pool := newPool(t)
	relay := outbox.NewRelay(pool, &recorder{})
	added := add(t, pool, 3)
	for _, e := range added {
		if err := relay.Publish(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	relay.Close() // writes the queued marks
	if n := unpublished(t, pool); n != 0 {
		t.Errorf("%d rows unpublished after Publish and Close", n)
	}
}

func TestPublishAfterCloseDoesNotPanic(t *testing.T) {
	pool := newPool(t)
	pub := &recorder{}
	relay := outbox.NewRelay(pool, pub)
	relay.Close()
	e := add(t, pool, 1)[0]
	if err := relay.Publish(context.Background(), e); err != nil || len(pub.got) != 1 {
		t.Fatalf("Publish after Close = %v, %d published; want the event published", err, len(pub.got))
	}
	if n := unpublished(t, pool); n != 1 {
		t.Errorf("%d unpublished, want its mark left to the sweep", n)
	}
}

func quarantined(t *testing.T, pool *pgxpool.Pool) []string {
	rows, _ := pool.Query(context.Background(), `SELECT id FROM outbox WHERE quarantined_at IS NOT NULL ORDER BY id`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestSweepQuarantinesRowsThatCanNeverBePublishedAndGoesOn(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	// Oldest first: an undecodable row and one the broker refuses stand before the good ones.
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (id, event, created_at) VALUES ('0-undecodable', 'not json', now() - interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	refused := add(t, pool, 1)[0]
	good := add(t, pool, 2)
	pub := &recorder{refuse: refused.ID()}
	relay := outbox.NewRelay(pool, pub)
	t.Cleanup(relay.Close)
	relay.MinAge = 0

	n, err := relay.Sweep(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want the 2 good events published, nil", n, err)
	}
	if len(pub.got) != 2 || pub.got[0].ID() != good[0].ID() || pub.got[1].ID() != good[1].ID() {
		t.Errorf("published %v, want the good events in order", pub.got)
	}
	want := []string{"0-undecodable", refused.ID()}
	if got := quarantined(t, pool); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("quarantined %v, want %v", got, want)
	}

	attempts := pub.refusals
	if n, err := relay.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("second Sweep = %d, %v; want 0, nil", n, err)
	}
	if pub.refusals != attempts {
		t.Errorf("the second sweep tried the quarantined event again (%d refusals, want %d)", pub.refusals, attempts)
	}
}

func TestAnOutageQuarantinesNothing(t *testing.T) {
	pool := newPool(t)
	add(t, pool, 3)
	relay := outbox.NewRelay(pool, &recorder{down: true})
	t.Cleanup(relay.Close)
	relay.MinAge = 0
	if _, err := relay.Sweep(context.Background()); err == nil {
		t.Fatal("Sweep succeeded with the broker down")
	}
	if got := quarantined(t, pool); len(got) != 0 {
		t.Errorf("quarantined %v during an outage, want none", got)
	}
}

func TestRequeueSendsAPublishedEventAgainWithItsID(t *testing.T) {
	pool := newPool(t)
	pub := &recorder{}
	relay := outbox.NewRelay(pool, pub)
	t.Cleanup(relay.Close)
	relay.MinAge = 0
	added := add(t, pool, 1)
	if n, err := relay.Sweep(context.Background()); err != nil || n != 1 {
		t.Fatalf("first sweep = %d, %v", n, err)
	}

	if err := outbox.Requeue(context.Background(), pool, added[0]); err != nil {
		t.Fatal(err)
	}
	if n := unpublished(t, pool); n != 1 {
		t.Fatalf("%d unpublished after Requeue, want the row again", n)
	}
	fresh := eventstest.New(t, events.SourceOrder, events.OrderShippedV1{OrderID: "o", TrackingID: "T"})
	if err := outbox.Requeue(context.Background(), pool, fresh); err != nil { // not in the outbox yet
		t.Fatal(err)
	}
	if n, err := relay.Sweep(context.Background()); err != nil || n != 2 {
		t.Fatalf("sweep after Requeue = %d, %v; want 2", n, err)
	}
	if len(pub.got) != 3 || pub.got[1].ID() != added[0].ID() || string(pub.got[1].Data()) != string(added[0].Data()) || pub.got[2].ID() != fresh.ID() {
		t.Errorf("published %d events; want the requeued one again, same id and data, then the new one", len(pub.got))
	}
}
