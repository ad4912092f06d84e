package order

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/auth/authtest"
	"github.com/ordersaga/ordersaga/internal/events"
)

func decodeBody[T any](tb testing.TB, resp *http.Response) T {
	tb.Helper()
	var v T
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		tb.Fatalf("decode response: %v", err)
	}
	return v
}

func TestCreateOrderWritesOutboxAndPublishesOrderRequested(t *testing.T) {
	fx := newFixture(t)
	token := fx.keys.Token(t, "alice", auth.RoleUser)

	resp := fx.do(t, "POST", "/orders", token, `{"items":[{"sku":"BOOK-1","quantity":2},{"sku":"PEN","quantity":1}]}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202", resp.StatusCode)
	}
	o := decodeBody[map[string]any](t, resp)
	for _, field := range []string{"id", "user_id", "status", "items", "inventory_reserved", "total_cents", "created_at", "updated_at"} {
		if _, ok := o[field]; !ok {
			t.Errorf("order view lacks %q: %v", field, o)
		}
	}
	if o["status"] != "REQUESTED" || o["user_id"] != "alice" {
		t.Errorf("order = %v, want REQUESTED for alice", o)
	}
	// The 202 body is built without reading the row back: it must be what was stored.
	stored := decodeBody[map[string]any](t, fx.do(t, "GET", "/orders/"+o["id"].(string), token, ""))
	if !reflect.DeepEqual(stored, o) {
		t.Errorf("GET after create = %v\nthe 202 body was %v", stored, o)
	}

	published := fx.published(t)
	if len(published) != 1 {
		t.Fatalf("%d events on the topic, want 1", len(published))
	}
	e := published[0]
	p, err := events.Decode[events.OrderRequestedV1](e)
	if err != nil {
		t.Fatal(err)
	}
	if p.OrderID != o["id"] || p.UserID != "alice" || len(p.Items) != 2 || p.Items[0] != (events.Line{SKU: "BOOK-1", Quantity: 2}) {
		t.Errorf("ORDER_REQUESTED payload = %+v", p)
	}
	if e.Source() != events.SourceOrder || e.Extensions()[events.PartitionKey] != o["id"] {
		t.Errorf("attributes: source %q, partitionkey %v", e.Source(), e.Extensions()[events.PartitionKey])
	}
	// The row is marked published in the background, within moments.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var unpublished int
		if err := fx.fn.Pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&unpublished); err != nil {
			t.Fatal(err)
		}
		if unpublished == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d outbox rows still unpublished after a successful publish", unpublished)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCreateOrderHonoursIdempotencyKey(t *testing.T) {
	fx := newFixture(t)
	token := fx.keys.Token(t, "alice", auth.RoleUser)
	body := `{"items":[{"sku":"BOOK-1","quantity":1}]}`

	first := decodeBody[Order](t, fx.do(t, "POST", "/orders", token, body, "Idempotency-Key", "k-1"))
	again := fx.do(t, "POST", "/orders", token, body, "Idempotency-Key", "k-1")
	if again.StatusCode != http.StatusAccepted {
		t.Fatalf("retry status %d, want 202", again.StatusCode)
	}
	if second := decodeBody[Order](t, again); second.ID != first.ID {
		t.Errorf("retry created order %s, want the first one %s", second.ID, first.ID)
	}
	if n := fx.countRows(t, "orders"); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
	if n := fx.countRows(t, "outbox"); n != 1 {
		t.Errorf("%d outbox events, want 1", n)
	}
	if resp := fx.do(t, "POST", "/orders", token, `{"items":[{"sku":"BOOK-1","quantity":5}]}`, "Idempotency-Key", "k-1"); resp.StatusCode != http.StatusConflict {
		t.Errorf("same key, other body: status %d, want 409", resp.StatusCode)
	}
	// The key belongs to the user: another user's identical key is a new order.
	other := fx.keys.Token(t, "bob", auth.RoleUser)
	if o := decodeBody[Order](t, fx.do(t, "POST", "/orders", other, body, "Idempotency-Key", "k-1")); o.ID == first.ID || o.UserID != "bob" {
		t.Errorf("bob's order = %+v", o)
	}
}

func TestOrdersAreVisibleToTheirOwnerAndAdmins(t *testing.T) {
	fx := newFixture(t)
	alice := fx.keys.Token(t, "alice", auth.RoleUser)
	bob := fx.keys.Token(t, "bob", auth.RoleUser)
	admin := fx.keys.Token(t, "root", auth.RoleAdmin)
	o := decodeBody[Order](t, fx.do(t, "POST", "/orders", alice, `{"items":[{"sku":"A","quantity":1}]}`))
	fx.do(t, "POST", "/orders", bob, `{"items":[{"sku":"B","quantity":1}]}`)

	if resp := fx.do(t, "GET", "/orders/"+o.ID, alice, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("owner GET: %d, want 200", resp.StatusCode)
	}
	if resp := fx.do(t, "GET", "/orders/"+o.ID, bob, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another user's GET: %d, want 404", resp.StatusCode)
	}
	if resp := fx.do(t, "GET", "/orders/"+o.ID, admin, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("admin GET: %d, want 200", resp.StatusCode)
	}
	if resp := fx.do(t, "GET", "/orders/not-a-uuid", alice, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("malformed id: %d, want 404", resp.StatusCode)
	}
	if list := decodeBody[[]Order](t, fx.do(t, "GET", "/orders", bob, "")); len(list) != 1 || list[0].UserID != "bob" {
		t.Errorf("bob's list = %+v, want only his order", list)
	}
	if list := decodeBody[[]Order](t, fx.do(t, "GET", "/orders", admin, "")); len(list) != 2 {
		t.Errorf("admin's list has %d orders, want 2", len(list))
	}
	if resp := fx.do(t, "GET", "/orders?limit=0", alice, ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("limit=0: %d, want 400", resp.StatusCode)
	}
}

func TestOrderAPIRequiresAValidToken(t *testing.T) {
	fx := newFixture(t)
	stranger := authtest.NewKeys(t).Token(t, "mallory", auth.RoleAdmin) // signed by another key
	for _, token := range []string{"", "garbage", stranger} {
		for _, req := range [][2]string{{"POST", "/orders"}, {"GET", "/orders"}, {"GET", "/orders/00000000-0000-0000-0000-000000000000"}} {
			resp := fx.do(t, req[0], req[1], token, `{"items":[{"sku":"A","quantity":1}]}`)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with token %.10q: %d, want 401", req[0], req[1], token, resp.StatusCode)
			}
		}
	}
	if n := fx.countRows(t, "orders"); n != 0 {
		t.Errorf("%d orders written by unauthenticated requests", n)
	}
}

func TestCreateOrderRejectsBadInputAndWritesNothing(t *testing.T) {
	fx := newFixture(t)
	token := fx.keys.Token(t, "alice", auth.RoleUser)
	cases := []struct {
		name, body, contentType string
		status                  int
	}{
		{"malformed JSON", `{"items":[`, "application/json", 400},
		{"wrong type", `{"items":[{"sku":"A","quantity":"two"}]}`, "application/json", 400},
		{"unknown field", `{"items":[{"sku":"A","quantity":1}],"price":0}`, "application/json", 400},
		{"no lines", `{"items":[]}`, "application/json", 400},
		{"zero quantity", `{"items":[{"sku":"A","quantity":0}]}`, "application/json", 400},
		{"negative quantity", `{"items":[{"sku":"A","quantity":-1}]}`, "application/json", 400},
		{"bad sku", `{"items":[{"sku":"a b","quantity":1}]}`, "application/json", 400},
		{"sku twice", `{"items":[{"sku":"A","quantity":1},{"sku":"A","quantity":1}]}`, "application/json", 400},
		{"trailing data", `{"items":[{"sku":"A","quantity":1}]} {}`, "application/json", 400},
		{"not JSON", `items=A`, "application/x-www-form-urlencoded", 415},
		{"too large", `{"items":[{"sku":"A","quantity":1}],"x":"` + strings.Repeat("x", 70<<10) + `"}`, "application/json", 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := fx.do(t, "POST", "/orders", token, c.body, "Content-Type", c.contentType)
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
			if body := decodeBody[map[string]string](t, resp); body["error"] == "" {
				t.Errorf("error body = %v, want {\"error\": ...}", body)
			}
		})
	}
	if n := fx.countRows(t, "orders"); n != 0 {
		t.Errorf("%d orders written by rejected requests", n)
	}
	if n := fx.countRows(t, "outbox"); n != 0 {
		t.Errorf("%d events written by rejected requests", n)
	}
}

func TestEveryBadTokenIsRejectedAndChangesNothing(t *testing.T) {
	fx := newFixture(t)
	o := decodeBody[Order](t, fx.do(t, "POST", "/orders", fx.keys.Token(t, "alice", auth.RoleUser), `{"items":[{"sku":"A","quantity":1}]}`))
	for _, bad := range fx.keys.BadTokens(t) {
		t.Run(bad.Name, func(t *testing.T) {
			for _, req := range [][2]string{{"POST", "/orders"}, {"GET", "/orders"}, {"GET", "/orders/" + o.ID}} {
				resp := fx.do(t, req[0], req[1], bad.Token, `{"items":[{"sku":"A","quantity":1}]}`)
				if body := decodeBody[map[string]string](t, resp); resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid token" {
					t.Errorf("%s %s: %d %v, want 401 invalid token", req[0], req[1], resp.StatusCode, body)
				}
			}
			// The cookie carries the same checks as the header.
			req, _ := http.NewRequest("GET", fx.server.URL+"/orders", nil)
			req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: bad.Token})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("cookie: %d, want 401", resp.StatusCode)
			}
		})
	}
	if n := fx.countRows(t, "orders"); n != 1 {
		t.Errorf("%d orders, want only the one placed with a valid token", n)
	}
}
