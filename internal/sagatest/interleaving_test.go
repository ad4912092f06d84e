// Package sagatest holds tests of the whole saga that call every function's Handle directly, the
// broker played by the test: so a test decides the order, the duplicates and the delays of every
// delivery, which a running broker never lets one choose.
package sagatest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ordersaga/ordersaga/functions/inventory"
	"github.com/ordersaga/ordersaga/functions/order"
	"github.com/ordersaga/ordersaga/functions/payment"
	"github.com/ordersaga/ordersaga/functions/shipping"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/auth/authtest"
	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/kafka"
	"github.com/ordersaga/ordersaga/internal/kafka/kafkatest"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

const topic = "orders.events"

// saga is the four event functions on databases of their own, the order function's topic on an
// embedded Kafka broker, and REST clients for the customer and the admin.
type saga struct {
	fns      map[string]function.EventHandler
	payment  *payment.Function
	customer *client.Client
	admin    *client.Client
	brokers  []string
	seen     int // events of the topic already routed
}

func newSaga(t *testing.T, seed int64) *saga {
	t.Helper()
	return newSagaPaying(t, seed, 0.7)
}

// newSagaPaying is newSaga with payment succeeding at successRate (0..1).
func newSagaPaying(t *testing.T, seed int64, successRate float64) *saga {
	t.Helper()
	ctx := context.Background()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	keys := authtest.NewKeys(t)

	ord, err := order.Open(ctx, order.Config{DatabaseURL: pgtest.NewSchema(t, "ordersaga_order", order.Schema),
		Kafka: kafka.Config{Brokers: cluster.ListenAddrs()}, KafkaTopic: topic, Auth: keys.Config()})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Open(ctx, inventory.Config{DatabaseURL: pgtest.NewSchema(t, "ordersaga_inventory", inventory.Schema), Config: keys.Config()})
	if err != nil {
		t.Fatal(err)
	}
	pay, err := payment.Open(ctx, payment.Config{DatabaseURL: pgtest.NewSchema(t, "ordersaga_payment", payment.Schema),
		SuccessRate: successRate, Seed: &seed})
	if err != nil {
		t.Fatal(err)
	}
	ship, err := shipping.Open(ctx, shipping.Config{DatabaseURL: pgtest.NewSchema(t, "ordersaga_shipping", shipping.Schema)})
	if err != nil {
		t.Fatal(err)
	}
	orderAPI := httptest.NewServer(function.NewHandler(ord))
	inventoryAPI := httptest.NewServer(function.NewHandler(inv))
	t.Cleanup(func() {
		orderAPI.Close()
		inventoryAPI.Close()
		ord.Close()
		inv.Close()
		pay.Close()
		ship.Close()
	})
	return &saga{
		fns:      map[string]function.EventHandler{"order": ord, "inventory": inv, "payment": pay, "shipping": ship},
		payment:  pay,
		customer: client.New(orderAPI.URL, nil).WithToken(keys.Token(t, "alice", auth.RoleUser)),
		admin:    client.New(inventoryAPI.URL, nil).WithToken(keys.Token(t, "root", auth.RoleAdmin)),
		brokers:  cluster.ListenAddrs(),
	}
}

// published returns what the order function's outbox has put on the topic since the last call.
func (s *saga) published(t *testing.T) []cloudevents.Event {
	t.Helper()
	all := kafkatest.Published(t, s.brokers, topic)
	fresh := all[s.seen:]
	s.seen = len(all)
	return fresh
}

// delivery is one event on its way to one function.
type delivery struct {
	event cloudevents.Event
	to    string
}

// network is every delivery not yet made. The test takes them in a random order, makes some
// twice (at-least-once) and fails some (the function answered 5xx: the broker tries again
// later), so every interleaving a broker can produce, ordered or not, is one the test can draw.
type network struct {
	rng     *rand.Rand
	pending []delivery
}

// send routes e to every function that reacts to its type, as the Triggers do.
func (n *network) send(e cloudevents.Event) {
	for _, fn := range events.Reactions[events.Type(e.Type())] {
		n.pending = append(n.pending, delivery{event: e, to: fn})
	}
}

// take removes a random delivery, or leaves a copy behind to be made again.
func (n *network) take(duplicate float64) delivery {
	i := n.rng.IntN(len(n.pending))
	d := n.pending[i]
	if n.rng.Float64() >= duplicate {
		n.pending[i] = n.pending[len(n.pending)-1]
		n.pending = n.pending[:len(n.pending)-1]
	}
	return d
}

// The saga is correct under any interleaving of its deliveries: for several seeds, a batch of
// orders (some over the stock, some cancelled by their owner at a random moment) runs with every
// delivery in random order, a fifth of them duplicated, and every function's reply routed on.
// At the end every order has ended, only paid orders completed and no cancelled order was
// charged, and stock is conserved with nothing left reserved. This is the evidence that lets a
// Trigger deliver unordered: the saga does not rely on the order events arrive in.
func TestSagaIsCorrectUnderAnyInterleaving(t *testing.T) {
	for seed := range int64(4) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) { interleave(t, seed) })
	}
}

func interleave(t *testing.T, seed int64) {
	ctx := context.Background()
	s := newSaga(t, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 42))
	stock := map[string]int64{"PLENTY": 1000, "SCARCE": 6}
	for sku, qty := range stock {
		if _, err := s.admin.CreateItem(ctx, client.NewItem{SKU: sku, Name: sku, PriceCents: 250, Quantity: qty}); err != nil {
			t.Fatal(err)
		}
	}
	const orders = 24
	var ids []string
	for i := range orders {
		lines := []client.Line{{SKU: "PLENTY", Quantity: 1 + int64(i%3)}}
		if i%3 == 0 {
			lines = append(lines, client.Line{SKU: "SCARCE", Quantity: 1})
		}
		o, err := s.customer.PlaceOrder(ctx, lines, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	net := &network{rng: rng}
	for _, e := range s.published(t) {
		net.send(e)
	}
	// A quarter of the orders are cancelled by their owner, each at a random step of the run.
	cancelAt := map[int]string{}
	for _, id := range ids[:orders/4] {
		cancelAt[rng.IntN(orders*6)] = id
	}

	cancelled := 0
	for step := 0; len(net.pending) > 0 || len(cancelAt) > 0; step++ {
		if id, ok := cancelAt[step]; ok {
			delete(cancelAt, step)
			// 202, or 409 once the order is paid or has ended: both are answers the saga allows.
			_, err := s.customer.CancelOrder(ctx, id)
			switch {
			case err == nil:
				cancelled++
			case client.StatusOf(err) != 409:
				t.Fatalf("cancel %s: %v", id, err)
			}
			for _, e := range s.published(t) {
				net.send(e)
			}
		}
		if len(net.pending) == 0 {
			continue
		}
		d := net.take(0.2)
		if rng.Float64() < 0.1 {
			net.pending = append(net.pending, d) // the function failed this time: retried later
			continue
		}
		reply, err := s.fns[d.to].Handle(ctx, d.event)
		if err != nil {
			t.Fatalf("step %d: %s refused %s for order %s: %v", step, d.to, d.event.Type(), d.event.Subject(), err)
		}
		if reply != nil {
			net.send(*reply)
		}
		if step > 100000 {
			t.Fatal("the saga never quietened: events keep causing events")
		}
	}

	ended := checkInvariants(t, s, ids, stock)
	if ended[client.StatusCompleted] == 0 || ended[client.StatusCancelled] == 0 || cancelled == 0 {
		t.Errorf("the run did not take every path: %v, %d cancel requests accepted", ended, cancelled)
	}
}

// checkInvariants checks the saga's end state: every order ended; an order completed exactly
// when payment charged it; no stock lost, none reserved, and sold is what completed orders bought.
func checkInvariants(t *testing.T, s *saga, ids []string, stock map[string]int64) (ended map[string]int) {
	t.Helper()
	ctx := context.Background()
	charged := map[string]string{}
	rows, err := s.payment.Pool.Query(ctx, "SELECT order_id, status FROM transactions")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			t.Fatal(err)
		}
		charged[id] = status
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	bought := map[string]int64{}
	ended = map[string]int{}
	for _, id := range ids {
		o, err := s.customer.Order(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		ended[o.Status]++
		switch o.Status {
		case client.StatusCompleted:
			if charged[id] != "COMPLETED" {
				t.Errorf("order %s completed, payment %q", id, charged[id])
			}
			for _, l := range o.Items {
				bought[l.SKU] += l.Quantity
			}
		case client.StatusCancelled:
			if charged[id] == "COMPLETED" {
				t.Errorf("order %s cancelled (%s) but charged", id, o.CancelReason)
			}
		default:
			t.Errorf("order %s ended the run %s", id, o.Status)
		}
	}
	for sku, stocked := range stock {
		it, err := s.admin.Item(ctx, sku)
		if err != nil {
			t.Fatal(err)
		}
		if it.Available+it.Reserved+it.Sold != stocked || it.Reserved != 0 || it.Sold != bought[sku] {
			t.Errorf("%s: available %d + reserved %d + sold %d, stocked %d, completed orders bought %d",
				sku, it.Available, it.Reserved, it.Sold, stocked, bought[sku])
		}
	}
	t.Logf("%d orders: %v", len(ids), ended)
	return ended
}
