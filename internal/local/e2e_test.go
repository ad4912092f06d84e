package local

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/loadtest"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
	"github.com/ordersaga/ordersaga/internal/telemetry/telemetrytest"
)

// sagaDeadline bounds how long a batch of orders may take to reach their terminal states. It
// is far above what the saga needs, so that a busy machine does not fail the test; reaching it
// means orders are stuck.
const sagaDeadline = 3 * time.Minute

type e2e struct {
	stack *Stack
	dbURL string
	user  *client.Client
	admin *client.Client
	// stocked is everything ever stocked, per sku.
	stocked map[string]int64
}

// startE2E starts the whole stack as `make run` does, on a database and a data folder of the
// test's own, and signs a user and the admin in through the gateway. adjust changes the
// configuration first.
func startE2E(t *testing.T, adjust ...func(*Config)) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: starts the whole stack")
	}
	dbURL := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := Config{
		Root: moduleRoot(t), DataDir: t.TempDir(), DatabaseURL: dbURL, KafkaPort: 0, // any free port, taken by the broker itself
		GatewayAddr: "127.0.0.1:0", PaymentSuccessRate: "0.7",
		AdminEmail: "admin@e2e.test", AdminPassword: "admin-password-e2e", Quiet: true,
	}
	for _, f := range adjust {
		f(&cfg)
	}
	stack, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Stop) // before the database is dropped

	x := &e2e{stack: stack, dbURL: dbURL, stocked: map[string]int64{}}
	anon := client.New(stack.GatewayURL, loadtest.HTTPClient(256))
	if _, err := anon.Signup(ctx, "shopper@e2e.test", "shopper-password"); err != nil {
		t.Fatal(err)
	}
	if x.user, err = anon.SignIn(ctx, "shopper@e2e.test", "shopper-password"); err != nil {
		t.Fatal(err)
	}
	if x.admin, err = anon.SignIn(ctx, stack.AdminEmail, stack.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return x
}

// stock creates an item with quantity units.
func (x *e2e) stock(t *testing.T, sku string, price, quantity int64) {
	t.Helper()
	item := client.NewItem{SKU: sku, Name: "item " + sku, PriceCents: price, Quantity: quantity}
	if _, err := x.admin.CreateItem(context.Background(), item); err != nil {
		t.Fatal(err)
	}
	x.stocked[sku] += quantity
}

// placeConcurrently places every order at once, each from its own goroutine, as many users
// clicking at the same moment. A request that fails in transit is retried with its
// Idempotency-Key, as a careful client does; afterEach runs after each accepted order.
func (x *e2e) placeConcurrently(t *testing.T, orders [][]client.Line, afterEach func(accepted int)) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sagaDeadline)
	defer cancel()
	prefix := fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
	ids := make([]string, len(orders))
	errs := make([]error, len(orders))
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for i, lines := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("%s-%d", prefix, i)
			for attempt := 0; ; attempt++ {
				o, err := x.user.PlaceOrder(ctx, lines, key)
				if err == nil {
					ids[i] = o.ID
					if o.Status != client.StatusRequested {
						errs[i] = fmt.Errorf("order accepted in status %s, want REQUESTED", o.Status)
					}
					if afterEach != nil {
						afterEach(int(accepted.Add(1)))
					}
					return
				}
				// An answer below 500 is final; no answer or a 5xx is worth a retry.
				if status := client.StatusOf(err); (status != 0 && status < 500) || attempt >= 20 || ctx.Err() != nil {
					errs[i] = err
					return
				}
				time.Sleep(250 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("placing orders: %v", err)
	}
	return ids
}

// waitTerminal polls the user's orders until every one of ids is COMPLETED or CANCELLED, and
// returns the user's orders as then listed. Failing requests (a function restarting) are
// retried.
func (x *e2e) waitTerminal(t *testing.T, ids []string) []client.Order {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sagaDeadline)
	defer cancel()
	var pending []string
	for {
		orders, err := x.user.Orders(ctx, 1000)
		if err == nil {
			status := map[string]string{}
			for _, o := range orders {
				status[o.ID] = o.Status
			}
			pending = pending[:0]
			for _, id := range ids {
				if s := status[id]; !client.Terminal(s) {
					pending = append(pending, id+" ("+s+")")
				}
			}
			if len(pending) == 0 {
				return orders
			}
		}
		select {
		case <-ctx.Done():
			if len(pending) > 5 {
				pending = append(pending[:5], "...")
			}
			t.Fatalf("orders not terminal after %s: %d pending %v (last error: %v)", sagaDeadline, len(pending), pending, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// transactions reads payment's own table, as the database admin: order id → status.
func (x *e2e) transactions(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, x.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT order_id, status FROM payment.transactions")
	if err != nil {
		t.Fatal(err)
	}
	txs := map[string]string{}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			t.Fatal(err)
		}
		txs[id] = status
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return txs
}

// checkSaga checks the saga's invariants over every order the user has placed (all, listed by
// the order function, must be among the given ids and terminal):
//   - each order appears once, in one state, and is COMPLETED or CANCELLED;
//   - completed orders are exactly the orders whose payment succeeded; an order whose payment
//     was declined is CANCELLED with reason payment_declined; an order never charged was
//     cancelled by inventory;
//   - stock is conserved for every item (available + reserved + sold = stocked), sold is what
//     completed orders bought, and nothing stays reserved once the system is quiet.
func (x *e2e) checkSaga(t *testing.T, ids []string, orders []client.Order) (completed, declined, rejected int) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	seen := map[string]int{}
	bought := map[string]int64{}
	txs := x.transactions(t)
	for _, o := range orders {
		if seen[o.ID]++; seen[o.ID] > 1 {
			t.Errorf("order %s is listed %d times", o.ID, seen[o.ID])
		}
		if !want[o.ID] {
			t.Errorf("order %s was never placed by this test", o.ID)
		}
		switch tx := txs[o.ID]; {
		case o.Status == client.StatusCompleted:
			completed++
			if tx != "COMPLETED" {
				t.Errorf("order %s is COMPLETED but its payment is %q", o.ID, tx)
			}
			if !o.InventoryReserved {
				t.Errorf("order %s is COMPLETED without its stock reserved", o.ID)
			}
			for _, l := range o.Items {
				bought[l.SKU] += l.Quantity
			}
		case o.Status == client.StatusCancelled && tx == "FAILED":
			declined++
			if o.CancelReason != events.ReasonPaymentDeclined {
				t.Errorf("order %s: payment declined but cancel_reason %q", o.ID, o.CancelReason)
			}
		case o.Status == client.StatusCancelled && tx == "":
			rejected++
			if o.CancelReason != events.ReasonInsufficient && o.CancelReason != events.ReasonUnknownSKU {
				t.Errorf("order %s: cancelled by inventory with reason %q", o.ID, o.CancelReason)
			}
		default:
			t.Errorf("order %s is %s (reason %q) with payment %q", o.ID, o.Status, o.CancelReason, tx)
		}
	}
	for _, id := range ids {
		if seen[id] == 0 {
			t.Errorf("order %s is missing from the user's orders", id)
		}
	}
	completedPayments := 0
	for id, s := range txs {
		if want[id] && s == "COMPLETED" {
			completedPayments++
		}
	}
	if completed != completedPayments {
		t.Errorf("%d orders completed, %d payments succeeded", completed, completedPayments)
	}

	// Releases and sales follow the terminal state by one more hop: wait for quiet.
	ctx, cancel := context.WithTimeout(context.Background(), sagaDeadline)
	defer cancel()
	for {
		items, err := x.admin.Items(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var problems []string
		quiet := true
		for _, it := range items {
			if _, ok := x.stocked[it.SKU]; !ok {
				continue
			}
			if sum := it.Available + it.Reserved + it.Sold; sum != x.stocked[it.SKU] {
				problems = append(problems, fmt.Sprintf("%s: available %d + reserved %d + sold %d = %d, stocked %d",
					it.SKU, it.Available, it.Reserved, it.Sold, sum, x.stocked[it.SKU]))
			}
			if it.Reserved != 0 || it.Sold != bought[it.SKU] {
				quiet = false
			}
		}
		if len(problems) > 0 {
			t.Fatalf("stock not conserved:\n%s", strings.Join(problems, "\n"))
		}
		if quiet {
			return completed, declined, rejected
		}
		select {
		case <-ctx.Done():
			sort.Slice(items, func(i, j int) bool { return items[i].SKU < items[j].SKU })
			t.Fatalf("stock never settled (reserved 0, sold = what completed orders bought %v): %+v", bought, items)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// mix is n orders over skus: every order takes one of plenty, and alternately one of scarce
// (more is ordered than stocked, so some orders are refused by inventory) or two of other.
func mix(n int, plenty, scarce, other string) [][]client.Line {
	orders := make([][]client.Line, n)
	for i := range orders {
		orders[i] = []client.Line{{SKU: plenty, Quantity: 1}}
		if i%2 == 0 {
			orders[i] = append(orders[i], client.Line{SKU: scarce, Quantity: 1})
		} else {
			orders[i] = append(orders[i], client.Line{SKU: other, Quantity: 2})
		}
	}
	return orders
}

func TestEndToEndSaga(t *testing.T) {
	// Every function process inherits the stack's environment: they export their spans here.
	collector := telemetrytest.NewCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "200") // milliseconds between exports
	x := startE2E(t, func(c *Config) { c.MetricsAddr = "127.0.0.1:0" })
	x.stock(t, "E2E-PLENTY", 1250, 1000)
	x.stock(t, "E2E-SCARCE", 4999, 40)
	x.stock(t, "E2E-OTHER", 300, 1000)

	ids := x.placeConcurrently(t, mix(200, "E2E-PLENTY", "E2E-SCARCE", "E2E-OTHER"), nil)
	orders := x.waitTerminal(t, ids)
	completed, declined, rejected := x.checkSaga(t, ids, orders)
	t.Logf("200 orders: %d completed, %d payment declined, %d refused by inventory", completed, declined, rejected)
	if completed == 0 || declined == 0 || rejected == 0 {
		t.Errorf("the run did not take every path of the saga (completed %d, declined %d, refused %d)", completed, declined, rejected)
	}

	t.Run("every order is one trace across every function", func(t *testing.T) {
		checkTraces(t, collector, orders)
	})
	t.Run("every function's metrics in one place", func(t *testing.T) {
		checkStackMetrics(t, x.stack, len(ids))
	})

	t.Run("functions killed mid-run lose nothing", func(t *testing.T) {
		x.stock(t, "E2E-KILL-A", 100, 1000)
		x.stock(t, "E2E-KILL-B", 100, 30)
		x.stock(t, "E2E-KILL-C", 100, 1000)
		var killed sync.Once
		more := x.placeConcurrently(t, mix(120, "E2E-KILL-A", "E2E-KILL-B", "E2E-KILL-C"), func(accepted int) {
			if accepted == 30 {
				killed.Do(func() {
					if err := x.stack.Kill("inventory"); err != nil {
						t.Errorf("kill inventory: %v", err)
					}
				})
			}
		})
		// Every order is accepted; the order function dies while their sagas are running.
		if err := x.stack.Kill("order"); err != nil {
			t.Errorf("kill order: %v", err)
		}
		if err := x.stack.Kill("payment"); err != nil {
			t.Errorf("kill payment: %v", err)
		}
		all := append(append([]string(nil), ids...), more...)
		orders := x.waitTerminal(t, all)
		completed, declined, rejected := x.checkSaga(t, all, orders)
		t.Logf("320 orders in all: %d completed, %d payment declined, %d refused by inventory", completed, declined, rejected)
	})
}
