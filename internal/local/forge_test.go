package local

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/eventauth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/manifests"
)

// forgedPayloads are well-formed events of every saga type, each as its rightful emitter would
// send it (source included), about order (a real one) or about a made-up order (ORDER_REQUESTED,
// which would reserve stock for an order nobody can release).
func forgedPayloads(order client.Order, sku string) []events.Payload {
	lines := []events.Line{{SKU: sku, Quantity: 1}}
	ghost := uuid.NewString()
	return []events.Payload{
		events.OrderRequestedV1{OrderID: ghost, UserID: order.UserID, Items: lines},
		events.InventoryReservedV1{OrderID: order.ID, UserID: order.UserID, Items: lines, TotalCents: 1},
		events.InventoryNotReservedV1{OrderID: order.ID, Reason: "out_of_stock", SKU: sku},
		events.TransactionCompletedV1{OrderID: order.ID, TransactionID: uuid.NewString(), AmountCents: 1},
		events.TransactionFailedV1{OrderID: order.ID, TransactionID: uuid.NewString(), AmountCents: 1, Reason: "declined"},
		events.OrderAcceptedV1{OrderID: order.ID, UserID: order.UserID, Items: lines, TotalCents: 1},
		events.OrderShippedV1{OrderID: order.ID, TrackingID: "FORGED"},
		events.OrderCompletedV1{OrderID: order.ID, Items: lines},
		events.OrderCancelledV1{OrderID: ghost, Items: lines, Reason: "forged"},
		events.OrderCancelRequestedV1{OrderID: order.ID, Reason: "forged", TotalCents: 1},
	}
}

var emitterSource = map[string]string{"order": events.SourceOrder, "inventory": events.SourceInventory,
	"payment": events.SourcePayment, "shipping": events.SourceShipping}

// snapshot is everything a forged event could change: every order's status, the stock, each
// function's inbox (a handled event leaves a row even when it changes nothing else), payments,
// shipments and dead letters.
// The order exclude and the sku FORGE-PROBE are left out (a probe order's own effects).
func (x *e2e) snapshot(t *testing.T, exclude string) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, x.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	state := map[string]string{}
	if exclude == "" {
		// No probe order yet: the inboxes too (a handled event leaves a row even when it
		// changes nothing else).
		for _, schema := range []string{"orders", "inventory", "payment", "shipping"} {
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+schema+".inbox").Scan(&n); err != nil {
				t.Fatal(err)
			}
			state["inbox "+schema] = fmt.Sprint(n)
		}
	}
	for name, query := range map[string]string{
		"orders":       "SELECT string_agg(id::text || '=' || status, ',' ORDER BY id) FROM orders.orders WHERE id::text <> $1",
		"stock":        "SELECT string_agg(sku || '=' || available || '/' || reserved || '/' || sold, ',' ORDER BY sku) FROM inventory.items WHERE sku <> 'FORGE-PROBE' AND $1 <> 'x'",
		"reservations": "SELECT count(*)::text FROM inventory.reservations WHERE order_id::text <> $1",
		"transactions": "SELECT count(*)::text FROM payment.transactions WHERE order_id::text <> $1",
		"shipments":    "SELECT count(*)::text FROM shipping.shipments WHERE order_id::text <> $1",
		"deadletters":  "SELECT count(*)::text FROM deadletter.dead_letters WHERE $1 <> 'x'",
	} {
		var v *string
		if err := conn.QueryRow(ctx, query, exclude).Scan(&v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v != nil {
			state[name] = *v
		}
	}
	return state
}

// An attacker on the machine, without the stack's key, forges well-formed binary-mode events of
// every saga type to every port the stack serves HTTP on: each function, the broker ingress,
// the gateway and the issuer. Without a token, with a token of its own key, with a token of the
// stack's issuer for another receiver or for a sender the receiver does not accept, every one is
// refused, and nothing changes. The saga itself still runs to the end.
func TestForgedEventsAreRefusedEverywhere(t *testing.T) {
	x := startE2E(t)
	x.stock(t, "FORGE-A", 500, 100)
	var normal [][]client.Line
	for range 6 {
		normal = append(normal, []client.Line{{SKU: "FORGE-A", Quantity: 1}})
	}
	ids := x.placeConcurrently(t, normal, nil)
	orders := x.waitTerminal(t, ids)
	if completed, declined, _ := x.checkSaga(t, ids, orders); completed+declined == 0 {
		t.Fatal("no order reached payment: the authenticated saga does not run")
	}
	before := x.snapshot(t, "")
	x.stock(t, "FORGE-PROBE", 100, 10)

	_, attackerKey, _ := ed25519.GenerateKey(nil)
	attacker, err := eventauth.NewIssuer(x.stack.issuer.URL(), attackerKey) // claims the stack's issuer name
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]string{"broker ingress": x.stack.Ingress, "gateway": x.stack.GatewayURL, "issuer": x.stack.issuer.URL()}
	audiences := map[string]string{"broker ingress": manifests.Audience(gvkBroker, "ordersaga", "default")}
	for name, p := range x.stack.procs {
		targets[name] = p.url()
		audiences[name] = manifests.Audience(gvkService, "ordersaga", name)
	}
	tokens := func(target string) map[string]string {
		aud := audiences[target]
		if aud == "" {
			aud = "eventing.knative.dev/broker/ordersaga/default"
		}
		mint := func(iss *eventauth.Issuer, sub, aud string) string {
			tok, _, err := iss.Token(sub, aud, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return "Bearer " + tok
		}
		trigger := "system:serviceaccount:ordersaga:order-order-shipped-oidc-eventing.knative.dev-trigger"
		return map[string]string{
			"no token":                            "",
			"token of the attacker's own key":     mint(attacker, trigger, aud),
			"stack token for another audience":    mint(x.stack.issuer, trigger, "serving.knative.dev/service/ordersaga/nobody"),
			"stack token of a sender not allowed": mint(x.stack.issuer, "system:serviceaccount:ordersaga:default", aud),
		}
	}
	httpc := &http.Client{Timeout: 10 * time.Second}
	sent := 0
	for target, url := range targets {
		for how, header := range tokens(target) {
			for _, p := range forgedPayloads(orders[0], "FORGE-A") {
				e, err := events.New(emitterSource[events.EmittedBy[p.EventType()]], p)
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest(http.MethodPost, url+"/", nil)
				if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&e), req); err != nil {
					t.Fatal(err)
				}
				if header != "" {
					req.Header.Set("Authorization", header)
				}
				resp, err := httpc.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", target, p.EventType(), err)
				}
				resp.Body.Close()
				sent++
				if resp.StatusCode < 400 {
					t.Errorf("%s, %s, %s: HTTP %d, want a refusal", target, how, p.EventType(), resp.StatusCode)
				}
				// Event endpoints refuse the sender; the others (the user function, the
				// gateway, the issuer) have no POST / at all.
				if receiver := target == "broker ingress" || x.stack.procs[target] != nil && slices.ContainsFunc(x.stack.procs[target].env,
					func(v string) bool { return strings.HasPrefix(v, "EVENT_AUTH_AUDIENCE=") }); receiver &&
					resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s, %s, %s: HTTP %d, want 401 or 403", target, how, p.EventType(), resp.StatusCode)
				}
			}
		}
	}
	t.Logf("%d forged deliveries to %d ports, all refused", sent, len(targets))

	if now := x.snapshot(t, ""); fmt.Sprint(now) != fmt.Sprint(before) {
		t.Errorf("state changed by forged events:\nbefore %v\nafter  %v", before, now)
	}
	// Anything accepted would be on its way through the broker now; a real order placed after
	// the forgeries and seen to its end means every earlier event had its chance to land.
	probe := x.placeConcurrently(t, [][]client.Line{{{SKU: "FORGE-PROBE", Quantity: 1}}}, nil)
	x.waitTerminal(t, probe)
	after := x.snapshot(t, probe[0])
	for k := range before {
		if _, ok := after[k]; !ok {
			delete(before, k) // the inboxes: the probe's events are in them
		}
	}
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("state changed by forged events:\nbefore %v\nafter  %v", before, after)
	}
}
