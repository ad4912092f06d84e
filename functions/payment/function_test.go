package payment

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
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

func newDB(tb testing.TB) string {
	tb.Helper()
	return pgtest.NewSchema(tb, "ordersaga_payment", Schema)
}

// open builds payment on its own test database (unless cfg names one) and closes it with tb.
func open(tb testing.TB, cfg Config) *Function {
	tb.Helper()
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = newDB(tb)
	}
	f, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(f.Close)
	return f
}

func seed(n int64) *int64 { return &n }

func reserved(tb testing.TB, orderID string, total int64) cloudevents.Event {
	tb.Helper()
	return eventstest.New(tb, events.SourceInventory, events.InventoryReservedV1{
		OrderID: orderID, UserID: "user-1", TotalCents: total,
		Items: []events.Line{{SKU: "SKU-1", Quantity: 2}},
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

// outcome is what a reply says, reduced to what a test compares.
type outcome struct {
	completed     bool
	transactionID string
	amount        int64
}

func outcomeOf(tb testing.TB, reply *cloudevents.Event) outcome {
	tb.Helper()
	if reply == nil {
		tb.Fatal("no reply")
	}
	switch events.Type(reply.Type()) {
	case events.TransactionCompleted:
		p := eventstest.Decode[events.TransactionCompletedV1](tb, reply)
		return outcome{true, p.TransactionID, p.AmountCents}
	case events.TransactionFailed:
		p := eventstest.Decode[events.TransactionFailedV1](tb, reply)
		if p.Reason != events.ReasonPaymentDeclined {
			tb.Errorf("reason = %q, want %q", p.Reason, events.ReasonPaymentDeclined)
		}
		return outcome{false, p.TransactionID, p.AmountCents}
	}
	tb.Fatalf("reply type %q", reply.Type())
	return outcome{}
}

func handle(tb testing.TB, f *Function, e cloudevents.Event) *cloudevents.Event {
	tb.Helper()
	reply, err := f.Handle(context.Background(), e)
	if err != nil {
		tb.Fatalf("Handle: %v", err)
	}
	return reply
}

// unset removes the variables for the rest of t (t.Setenv restores them after it).
func unset(t *testing.T, names ...string) {
	for _, name := range names {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://127.0.0.1:1/none")
	unset(t, "PAYMENT_SUCCESS_RATE", "PAYMENT_SEED")
	cfg, err := function.ConfigFromEnv[Config]()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SuccessRate != 0.9 || cfg.Seed != nil {
		t.Errorf("defaults: rate %v seed %v, want 0.9 and no seed", cfg.SuccessRate, cfg.Seed)
	}

	t.Setenv("PAYMENT_SUCCESS_RATE", "0.25")
	t.Setenv("PAYMENT_SEED", "-7")
	if cfg, err = function.ConfigFromEnv[Config](); err != nil {
		t.Fatal(err)
	}
	if cfg.SuccessRate != 0.25 || cfg.Seed == nil || *cfg.Seed != -7 {
		t.Errorf("got rate %v seed %v, want 0.25 and -7", cfg.SuccessRate, cfg.Seed)
	}

	t.Setenv("PAYMENT_SEED", "seven")
	if _, err := function.ConfigFromEnv[Config](); err == nil {
		t.Error("PAYMENT_SEED=seven accepted")
	}

	unset(t, "PAYMENT_SEED", "DATABASE_URL")
	if _, err := New(context.Background()); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("no DATABASE_URL: err = %v", err)
	}
}

// A bad rate must stop start-up before any connection is tried: DATABASE_URL points nowhere, so
// the error can only be the rate's.
func TestConfigSuccessRateOutOfRange(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://127.0.0.1:1/none")
	unset(t, "PAYMENT_SEED")
	for _, rate := range []string{"-0.01", "1.01", "2", "NaN", "+Inf", "lots"} {
		t.Setenv("PAYMENT_SUCCESS_RATE", rate)
		_, err := New(context.Background())
		if err == nil || !strings.Contains(err.Error(), "PAYMENT_SUCCESS_RATE") {
			t.Errorf("PAYMENT_SUCCESS_RATE=%s: err = %v, want a rate error", rate, err)
		}
	}
	for _, rate := range []float64{-1, 1.5, math.NaN(), math.Inf(1)} {
		if _, err := Open(context.Background(), Config{DatabaseURL: "postgres://127.0.0.1:1/none", SuccessRate: rate}); err == nil ||
			!strings.Contains(err.Error(), "PAYMENT_SUCCESS_RATE") {
			t.Errorf("Open with rate %v: err = %v, want a rate error", rate, err)
		}
	}
}

func TestDeciderSeedRules(t *testing.T) {
	draw := func(d *decider) []bool {
		out := make([]bool, 64)
		for i := range out {
			out[i] = d.approve()
		}
		return out
	}
	a, b := draw(newDecider(0.5, seed(42))), draw(newDecider(0.5, seed(42)))
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("the same seed gave different sequences")
	}
	if fmt.Sprint(a) == fmt.Sprint(draw(newDecider(0.5, seed(43)))) {
		t.Error("seeds 42 and 43 gave the same 64 outcomes")
	}
	for _, d := range []*decider{newDecider(1, seed(1)), newDecider(1, nil)} {
		for range 1000 {
			if !d.approve() {
				t.Fatal("rate 1 declined")
			}
		}
	}
	for _, d := range []*decider{newDecider(0, seed(1)), newDecider(0, nil)} {
		for range 1000 {
			if d.approve() {
				t.Fatal("rate 0 approved")
			}
		}
	}
	// The seeded source is shared by concurrent events; the race detector checks the mutex.
	d := newDecider(0.5, seed(3))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				d.approve()
			}
		})
	}
	wg.Wait()
}

func TestRateOneAlwaysCompletes(t *testing.T) {
	t.Parallel()
	f := open(t, Config{SuccessRate: 1})
	for i := range 20 {
		e := reserved(t, fmt.Sprintf("order-%d", i), int64(100+i))
		e.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		reply := handle(t, f, e)
		o := outcomeOf(t, reply)
		if !o.completed || o.amount != int64(100+i) || uuid.Validate(o.transactionID) != nil {
			t.Fatalf("order %d: %+v, want completed for %d with a uuid", i, o, 100+i)
		}
		if reply.Source() != events.SourcePayment || reply.Subject() != e.Subject() ||
			reply.Extensions()[events.PartitionKey] != e.Subject() ||
			reply.Extensions()["traceparent"] != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
			t.Fatalf("reply attributes: %v", reply)
		}
	}
	var completed int
	if err := f.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM transactions WHERE status = 'COMPLETED' AND reason = ''`).Scan(&completed); err != nil {
		t.Fatal(err)
	}
	if completed != 20 {
		t.Errorf("%d completed rows, want 20", completed)
	}
}

func TestRateZeroAlwaysFails(t *testing.T) {
	t.Parallel()
	f := open(t, Config{SuccessRate: 0})
	for i := range 20 {
		if o := outcomeOf(t, handle(t, f, reserved(t, fmt.Sprintf("order-%d", i), 500))); o.completed || o.amount != 500 {
			t.Fatalf("order %d: %+v, want failed for 500", i, o)
		}
	}
	var failed int
	if err := f.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM transactions WHERE status = 'FAILED' AND reason = $1`, events.ReasonPaymentDeclined).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed != 20 {
		t.Errorf("%d failed rows, want 20", failed)
	}
}

// With a seed, the same orders charged in the same sequence on two fresh databases get the same
// outcomes, and a rate of 0.5 gives both.
func TestSeededOutcomesReproducible(t *testing.T) {
	t.Parallel()
	run := func() []bool {
		f := open(t, Config{SuccessRate: 0.5, Seed: seed(20240601)})
		out := make([]bool, 100)
		for i := range out {
			out[i] = outcomeOf(t, handle(t, f, reserved(t, fmt.Sprintf("order-%d", i), 1000))).completed
		}
		return out
	}
	first, second := run(), run()
	var completed int
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("order %d: %v, then %v with the same seed", i, first[i], second[i])
		}
		if first[i] {
			completed++
		}
	}
	if completed == 0 || completed == len(first) {
		t.Fatalf("%d of %d completed at rate 0.5: want both outcomes", completed, len(first))
	}
}

func TestRedeliveryReturnsStoredReply(t *testing.T) {
	t.Parallel()
	f := open(t, Config{SuccessRate: 0.5})
	e := reserved(t, "order-1", 1234)
	first := handle(t, f, e)
	for range 3 {
		// The inbox keeps the reply as jsonb, so its data may come back with its keys reordered:
		// compare what it says, not its bytes.
		again := handle(t, f, e)
		if again.ID() != first.ID() || again.Type() != first.Type() || !again.Time().Equal(first.Time()) ||
			outcomeOf(t, again) != outcomeOf(t, first) {
			t.Fatalf("redelivery replied %v, want the stored %v", again, first)
		}
	}
	if n := count(t, f, "transactions"); n != 1 {
		t.Errorf("%d transactions, want 1", n)
	}
	if n := count(t, f, "inbox"); n != 1 {
		t.Errorf("%d inbox rows, want 1", n)
	}
}

// The same order under another event id (an upstream retry that made a new event) is answered
// from the stored charge: even a replica now configured to decline everything reports the first
// outcome, with the first transaction id and amount.
func TestSameOrderDifferentEventChargesOnce(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	approving := open(t, Config{DatabaseURL: db, SuccessRate: 1})
	declining := open(t, Config{DatabaseURL: db, SuccessRate: 0})

	e := reserved(t, "order-1", 700)
	first := outcomeOf(t, handle(t, approving, e))
	again := e.Clone()
	again.SetID(uuid.NewString())
	again.SetData(cloudevents.ApplicationJSON, events.InventoryReservedV1{ // a different total changes nothing
		OrderID: "order-1", UserID: "user-1", TotalCents: 9999, Items: []events.Line{{SKU: "SKU-1", Quantity: 2}},
	})
	second := outcomeOf(t, handle(t, declining, again))
	if second != first || !first.completed || first.amount != 700 {
		t.Fatalf("second event for the order: %+v, want the first charge %+v", second, first)
	}
	if n := count(t, approving, "transactions"); n != 1 {
		t.Errorf("%d transactions, want 1", n)
	}
	if n := count(t, approving, "inbox"); n != 2 {
		t.Errorf("%d inbox rows, want 2 (both events handled)", n)
	}
}

// Events of one order race on different replicas: one charge, one answer.
func TestConcurrentEventsForOneOrderChargeOnce(t *testing.T) {
	t.Parallel()
	f := open(t, Config{SuccessRate: 0.5})
	base := reserved(t, "order-1", 300)
	replies := make([]outcome, 8)
	var wg sync.WaitGroup
	for i := range replies {
		e := base.Clone()
		if i%2 == 1 {
			e.SetID(uuid.NewString()) // half redeliveries, half new events
		}
		wg.Go(func() {
			reply, err := f.Handle(context.Background(), e)
			if err != nil {
				t.Error(err)
				return
			}
			replies[i] = outcomeOf(t, reply)
		})
	}
	wg.Wait()
	for i, o := range replies {
		if o != replies[0] {
			t.Errorf("reply %d: %+v, want %+v", i, o, replies[0])
		}
	}
	if n := count(t, f, "transactions"); n != 1 {
		t.Errorf("%d transactions, want 1", n)
	}
}

func TestRejectsInvalidEvents(t *testing.T) {
	t.Parallel()
	f := open(t, Config{SuccessRate: 1})
	withData := func(data string) cloudevents.Event {
		e := reserved(t, "order-1", 100)
		if err := e.SetData(cloudevents.ApplicationJSON, []byte(data)); err != nil {
			t.Fatal(err)
		}
		return e
	}
	wrongContentType := reserved(t, "order-1", 100)
	wrongContentType.SetDataContentType("text/plain")
	wrongSchema := reserved(t, "order-1", 100)
	wrongSchema.SetDataSchema("urn:ordersaga:events:inventory_reserved:v2")
	for name, e := range map[string]cloudevents.Event{
		"wrong type": eventstest.New(t, events.SourceOrder, events.OrderAcceptedV1{
			OrderID: "order-1", UserID: "user-1", TotalCents: 1, Items: []events.Line{{SKU: "A", Quantity: 1}},
		}),
		"unknown type":       func() cloudevents.Event { e := reserved(t, "order-1", 100); e.SetType("PAYMENT_REQUESTED"); return e }(),
		"unknown field":      withData(`{"order_id":"order-1","user_id":"u","items":[{"sku":"A","quantity":1}],"total_cents":1,"coupon":"x"}`),
		"missing order_id":   withData(`{"user_id":"u","items":[{"sku":"A","quantity":1}],"total_cents":1}`),
		"negative amount":    withData(`{"order_id":"order-1","user_id":"u","items":[{"sku":"A","quantity":1}],"total_cents":-5}`),
		"not json":           withData(`total_cents=5`),
		"trailing data":      withData(`{"order_id":"order-1","user_id":"u","items":[{"sku":"A","quantity":1}],"total_cents":1} {}`),
		"empty data":         withData(``),
		"subject mismatch":   withData(`{"order_id":"order-2","user_id":"u","items":[{"sku":"A","quantity":1}],"total_cents":1}`),
		"wrong content type": wrongContentType,
		"wrong dataschema":   wrongSchema,
	} {
		reply, err := f.Handle(context.Background(), e)
		if status := function.EventStatus(err); status != http.StatusBadRequest || reply != nil {
			t.Errorf("%s: status %d (%v), reply %v; want 400 and no reply", name, status, err, reply)
		}
	}
	if n := count(t, f, "transactions") + count(t, f, "inbox"); n != 0 {
		t.Errorf("rejected events wrote %d rows", n)
	}
}

// One event through the real HTTP endpoint, in the binary binding a broker uses: ce-* headers in,
// the reply event in the response's ce-* headers and body.
func TestHTTPBinaryEvent(t *testing.T) {
	t.Parallel()
	f := open(t, Config{SuccessRate: 1})
	srv := httptest.NewServer(function.NewHandler(f))
	defer srv.Close()

	post := func(ceType, body string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{
			"Content-Type":     "application/json",
			"Ce-Specversion":   "1.0",
			"Ce-Id":            uuid.NewString(),
			"Ce-Source":        events.SourceInventory,
			"Ce-Type":          ceType,
			"Ce-Subject":       "order-http",
			"Ce-Partitionkey":  "order-http",
			"Ce-Dataschema":    events.DataSchema(events.InventoryReserved),
			"Ce-Traceparent":   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			"Ce-Unrelatedattr": "kept out of the reply",
		} {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	resp := post(string(events.InventoryReserved),
		`{"order_id":"order-http","user_id":"u","items":[{"sku":"A","quantity":3}],"total_cents":4200}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	reply, err := binding.ToEvent(context.Background(), cehttp.NewMessageFromHttpResponse(resp))
	if err != nil {
		t.Fatal(err)
	}
	p := eventstest.Decode[events.TransactionCompletedV1](t, reply)
	if p.OrderID != "order-http" || p.AmountCents != 4200 {
		t.Errorf("reply payload %+v", p)
	}
	if reply.Source() != events.SourcePayment || reply.Extensions()[events.PartitionKey] != "order-http" ||
		reply.Extensions()["traceparent"] != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("reply attributes: %v", reply)
	}

	if resp := post(string(events.OrderShipped), `{"order_id":"order-http","tracking_id":"T"}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("wrong type over HTTP: status %d, want 400", resp.StatusCode)
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	f := open(t, Config{SuccessRate: 1})
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

// Without its database payment must answer 5xx, so the broker retries rather than dead-letters,
// and report itself not ready.
func TestDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	f := open(t, Config{SuccessRate: 1})
	f.Close()
	reply, err := f.Handle(context.Background(), reserved(t, "order-1", 100))
	if status := function.EventStatus(err); status < 500 || reply != nil {
		t.Errorf("closed database: status %d (%v), reply %v; want 5xx", status, err, reply)
	}
	if err := f.Ready(context.Background()); err == nil {
		t.Error("Ready with a closed database")
	}
}

func BenchmarkCharge(b *testing.B) {
	f := open(b, Config{SuccessRate: 0.9, Seed: seed(1)})
	ctx := context.Background()
	evs := make([]cloudevents.Event, 0, 1024)
	i := 0
	for b.Loop() {
		if i%cap(evs) == 0 { // build events outside the timed part, a batch at a time
			b.StopTimer()
			evs = evs[:0]
			for j := range cap(evs) {
				evs = append(evs, reserved(b, fmt.Sprintf("order-%d", i+j), 1999))
			}
			b.StartTimer()
		}
		if _, err := f.Handle(ctx, evs[i%cap(evs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
