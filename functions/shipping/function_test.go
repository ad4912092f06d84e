package shipping

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/events/eventstest"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

// open builds shipping on its own test database (unless url names one) and closes it with tb.
func open(tb testing.TB, url string) *Function {
	tb.Helper()
	if url == "" {
		url = pgtest.NewSchema(tb, "ordersaga_shipping", Schema)
	}
	f, err := Open(context.Background(), Config{DatabaseURL: url})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(f.Close)
	return f
}

func accepted(tb testing.TB, orderID string) cloudevents.Event {
	tb.Helper()
	return eventstest.New(tb, events.SourceOrder, events.OrderAcceptedV1{
		OrderID: orderID, UserID: "user-1", TotalCents: 2500,
		Items: []events.Line{{SKU: "SKU-1", Quantity: 1}, {SKU: "SKU-2", Quantity: 4}},
	})
}

func count(tb testing.TB, f *Function, table string) int {
	tb.Helper()
	var n int
	if err := f.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func handle(tb testing.TB, f *Function, e cloudevents.Event) (*cloudevents.Event, events.OrderShippedV1) {
	tb.Helper()
	reply, err := f.Handle(context.Background(), e)
	if err != nil {
		tb.Fatalf("Handle: %v", err)
	}
	return reply, eventstest.Decode[events.OrderShippedV1](tb, reply)
}

var trackingPattern = regexp.MustCompile(`^TRK-[A-Z2-7]{16}$`)

func TestNewNeedsDatabaseURL(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	os.Unsetenv("DATABASE_URL")
	if _, err := New(context.Background()); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("no DATABASE_URL: err = %v", err)
	}
}

func TestShips(t *testing.T) {
	t.Parallel()
	f := open(t, "")
	seen := map[string]bool{}
	for i := range 20 {
		e := accepted(t, fmt.Sprintf("order-%d", i))
		e.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		reply, p := handle(t, f, e)
		if p.OrderID != e.Subject() || !trackingPattern.MatchString(p.TrackingID) || seen[p.TrackingID] {
			t.Fatalf("order %d: %+v, want a new tracking id like TRK-XXXXXXXXXXXXXXXX", i, p)
		}
		seen[p.TrackingID] = true
		if reply.Source() != events.SourceShipping || reply.Subject() != e.Subject() ||
			reply.Extensions()[events.PartitionKey] != e.Subject() ||
			reply.Extensions()["traceparent"] != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
			t.Fatalf("reply attributes: %v", reply)
		}
	}
	if n := count(t, f, "shipments"); n != 20 {
		t.Errorf("%d shipments, want 20", n)
	}
}

func TestRedeliveryReturnsStoredReply(t *testing.T) {
	t.Parallel()
	f := open(t, "")
	e := accepted(t, "order-1")
	first, p := handle(t, f, e)
	for range 3 {
		again, q := handle(t, f, e)
		if again.ID() != first.ID() || !again.Time().Equal(first.Time()) || q != p {
			t.Fatalf("redelivery replied %v, want the stored %v", again, first)
		}
	}
	if n := count(t, f, "shipments"); n != 1 {
		t.Errorf("%d shipments, want 1", n)
	}
	if n := count(t, f, "inbox"); n != 1 {
		t.Errorf("%d inbox rows, want 1", n)
	}
}

// The same order under another event id ships once, with the first tracking id.
func TestSameOrderDifferentEventShipsOnce(t *testing.T) {
	t.Parallel()
	f := open(t, "")
	e := accepted(t, "order-1")
	_, first := handle(t, f, e)
	again := e.Clone()
	again.SetID(uuid.NewString())
	reply, second := handle(t, f, again)
	if second != first {
		t.Fatalf("second event for the order: %+v, want %+v", second, first)
	}
	if reply.ID() == again.ID() {
		t.Error("the reply reuses the cause's id")
	}
	if n := count(t, f, "shipments"); n != 1 {
		t.Errorf("%d shipments, want 1", n)
	}
}

// Events of one order race on different replicas: one shipment, one tracking id.
func TestConcurrentEventsForOneOrderShipOnce(t *testing.T) {
	t.Parallel()
	f := open(t, "")
	base := accepted(t, "order-1")
	tracking := make([]string, 8)
	var wg sync.WaitGroup
	for i := range tracking {
		e := base.Clone()
		if i%2 == 1 {
			e.SetID(uuid.NewString())
		}
		wg.Go(func() {
			reply, err := f.Handle(context.Background(), e)
			if err != nil {
				t.Error(err)
				return
			}
			tracking[i] = eventstest.Decode[events.OrderShippedV1](t, reply).TrackingID
		})
	}
	wg.Wait()
	for i, id := range tracking {
		if id != tracking[0] {
			t.Errorf("reply %d: tracking %q, want %q", i, id, tracking[0])
		}
	}
	if n := count(t, f, "shipments"); n != 1 {
		t.Errorf("%d shipments, want 1", n)
	}
}

func TestRejectsInvalidEvents(t *testing.T) {
	t.Parallel()
	f := open(t, "")
	withData := func(data string) cloudevents.Event {
		e := accepted(t, "order-1")
		if err := e.SetData(cloudevents.ApplicationJSON, []byte(data)); err != nil {
			t.Fatal(err)
		}
		return e
	}
	wrongContentType := accepted(t, "order-1")
	wrongContentType.SetDataContentType("application/xml")
	for name, e := range map[string]cloudevents.Event{
		"wrong type": eventstest.New(t, events.SourceInventory, events.InventoryReservedV1{
			OrderID: "order-1", UserID: "user-1", TotalCents: 1, Items: []events.Line{{SKU: "A", Quantity: 1}},
		}),
		"unknown field":      withData(`{"order_id":"order-1","user_id":"u","items":[{"sku":"A","quantity":1}],"total_cents":1,"express":true}`),
		"missing order_id":   withData(`{"user_id":"u","items":[{"sku":"A","quantity":1}],"total_cents":1}`),
		"negative amount":    withData(`{"order_id":"order-1","user_id":"u","items":[{"sku":"A","quantity":1}],"total_cents":-1}`),
		"no items":           withData(`{"order_id":"order-1","user_id":"u","items":[],"total_cents":1}`),
		"empty data":         withData(``),
		"wrong content type": wrongContentType,
	} {
		reply, err := f.Handle(context.Background(), e)
		if status := function.EventStatus(err); status != http.StatusBadRequest || reply != nil {
			t.Errorf("%s: status %d (%v), reply %v; want 400 and no reply", name, status, err, reply)
		}
	}
	if n := count(t, f, "shipments") + count(t, f, "inbox"); n != 0 {
		t.Errorf("rejected events wrote %d rows", n)
	}
}

// One event through the real HTTP endpoint in the binary binding a broker uses.
func TestHTTPBinaryEvent(t *testing.T) {
	t.Parallel()
	f := open(t, "")
	srv := httptest.NewServer(function.NewHandler(f))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/",
		strings.NewReader(`{"order_id":"order-http","user_id":"u","items":[{"sku":"A","quantity":3}],"total_cents":4200}`))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"Content-Type":    "application/json",
		"Ce-Specversion":  "1.0",
		"Ce-Id":           uuid.NewString(),
		"Ce-Source":       events.SourceOrder,
		"Ce-Type":         string(events.OrderAccepted),
		"Ce-Subject":      "order-http",
		"Ce-Partitionkey": "order-http",
		"Ce-Traceparent":  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	} {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	reply, err := binding.ToEvent(context.Background(), cehttp.NewMessageFromHttpResponse(resp))
	if err != nil {
		t.Fatal(err)
	}
	p := eventstest.Decode[events.OrderShippedV1](t, reply)
	if p.OrderID != "order-http" || !trackingPattern.MatchString(p.TrackingID) {
		t.Errorf("reply payload %+v", p)
	}
	if reply.Type() != string(events.OrderShipped) || reply.Source() != events.SourceShipping ||
		reply.Extensions()["traceparent"] != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("reply attributes: %v", reply)
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	f := open(t, "")
	srv := httptest.NewServer(function.NewHandler(f))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/health/readiness")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("readiness %d, want 200", resp.StatusCode)
	}
}

// Without its database shipping must answer 5xx, so the broker retries rather than dead-letters.
func TestDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	f := open(t, "")
	f.Close()
	reply, err := f.Handle(context.Background(), accepted(t, "order-1"))
	if status := function.EventStatus(err); status < 500 || reply != nil {
		t.Errorf("closed database: status %d (%v), reply %v; want 5xx", status, err, reply)
	}
	if err := f.Ready(context.Background()); err == nil {
		t.Error("Ready with a closed database")
	}
}

func BenchmarkShip(b *testing.B) {
	f := open(b, "")
	ctx := context.Background()
	evs := make([]cloudevents.Event, 0, 1024)
	i := 0
	for b.Loop() {
		if i%cap(evs) == 0 { // build events outside the timed part, a batch at a time
			b.StopTimer()
			evs = evs[:0]
			for j := range cap(evs) {
				evs = append(evs, accepted(b, fmt.Sprintf("order-%d", i+j)))
			}
			b.StartTimer()
		}
		if _, err := f.Handle(ctx, evs[i%cap(evs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
