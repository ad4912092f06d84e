package inventory

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// api is the function served over real HTTP, with an admin's and a user's token.
type api struct {
	*fixture
	srv          *httptest.Server
	admin, user  string
	lastResponse http.Header
}

func newAPI(t *testing.T) *api {
	f := newFixture(t)
	srv := httptest.NewServer(function.NewHandler(f.fn))
	t.Cleanup(srv.Close)
	return &api{
		fixture: f, srv: srv,
		admin: f.keys.Token(t, "admin-1", auth.RoleAdmin),
		user:  f.keys.Token(t, "user-1", auth.RoleUser),
	}
}

// call sends a JSON request (body "" sends none) and returns the status and the decoded body.
func (a *api) call(t *testing.T, method, path, token, body string) (int, any) {
	t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	return a.send(t, method, path, token, contentType, body)
}

func (a *api) send(t *testing.T, method, path, token, contentType, body string) (int, any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a.lastResponse = resp.Header
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: %d with Content-Type %q: %s", method, path, resp.StatusCode, ct, raw)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s %s: %d with invalid JSON %q", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, v
}

func itemJSON(sku, name string, price, available, reserved, sold int64) map[string]any {
	return map[string]any{"sku": sku, "name": name, "price_cents": float64(price),
		"available": float64(available), "reserved": float64(reserved), "sold": float64(sold)}
}

func wantJSON(t *testing.T, what string, status, wantStatus int, got, want any) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s: status %d (%v), want %d", what, status, got, wantStatus)
		return
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s: body %s, want %s", what, g, w)
	}
}

// wantError checks an error response: the status and a {"error": "..."} body and nothing else.
func wantError(t *testing.T, what string, status, wantStatus int, body any) {
	t.Helper()
	m, ok := body.(map[string]any)
	msg, isString := m["error"].(string)
	if status != wantStatus || !ok || len(m) != 1 || !isString || msg == "" {
		t.Errorf("%s: %d %v, want %d with {\"error\": ...}", what, status, body, wantStatus)
	}
}

func TestItemsCreateUpdateGetList(t *testing.T) {
	a := newAPI(t)
	status, body := a.call(t, "POST", "/items", a.admin, `{"sku":"SKU-1","name":"Widget","price_cents":1299,"quantity":7}`)
	wantJSON(t, "create", status, http.StatusCreated, body, itemJSON("SKU-1", "Widget", 1299, 7, 0, 0))
	if loc := a.lastResponse.Get("Location"); loc != "/items/SKU-1" {
		t.Errorf("Location %q", loc)
	}
	status, body = a.call(t, "POST", "/items", a.admin, `{"sku":"SKU-1","name":"Other","price_cents":1,"quantity":1}`)
	wantError(t, "create again", status, http.StatusConflict, body)

	status, body = a.call(t, "POST", "/items", a.admin, `{"sku":"a.b_c-0","name":"Gadget","price_cents":0,"quantity":0}`)
	wantJSON(t, "create free and empty", status, http.StatusCreated, body, itemJSON("a.b_c-0", "Gadget", 0, 0, 0, 0))

	status, body = a.call(t, "PUT", "/items/SKU-1", a.admin, `{"price_cents":1500}`)
	wantJSON(t, "update price", status, http.StatusOK, body, itemJSON("SKU-1", "Widget", 1500, 7, 0, 0))
	status, body = a.call(t, "PUT", "/items/SKU-1", a.admin, `{"name":"Widget II","price_cents":1400,"quantity":20}`)
	wantJSON(t, "update all", status, http.StatusOK, body, itemJSON("SKU-1", "Widget II", 1400, 20, 0, 0))
	status, body = a.call(t, "PUT", "/items/NOPE", a.admin, `{"quantity":1}`)
	wantError(t, "update unknown", status, http.StatusNotFound, body)
	status, body = a.call(t, "PUT", "/items/not%20a%20sku", a.admin, `{"quantity":1}`)
	wantError(t, "update malformed sku", status, http.StatusNotFound, body)

	status, body = a.call(t, "GET", "/items/SKU-1", a.user, "")
	wantJSON(t, "get", status, http.StatusOK, body, itemJSON("SKU-1", "Widget II", 1400, 20, 0, 0))
	status, body = a.call(t, "GET", "/items/NOPE", a.user, "")
	wantError(t, "get unknown", status, http.StatusNotFound, body)
	status, body = a.call(t, "GET", "/items", a.user, "")
	wantJSON(t, "list", status, http.StatusOK, body, []any{
		itemJSON("SKU-1", "Widget II", 1400, 20, 0, 0), itemJSON("a.b_c-0", "Gadget", 0, 0, 0, 0),
	})
}

func TestItemsListEmptyIsArray(t *testing.T) {
	a := newAPI(t)
	status, body := a.call(t, "GET", "/items", a.user, "")
	wantJSON(t, "empty list", status, http.StatusOK, body, []any{})
}

// The item view shows reservations and sales; setting the shelf count leaves them alone.
func TestItemsViewAfterSaga(t *testing.T) {
	a := newAPI(t)
	a.stock(t, "A", 100, 10)
	sold, held := newOrderID(), newOrderID()
	a.handle(t, requested(t, sold, line("A", 2)))
	a.handle(t, completed(t, sold, line("A", 2)))
	a.handle(t, requested(t, held, line("A", 3)))
	status, body := a.call(t, "GET", "/items/A", a.user, "")
	wantJSON(t, "after saga", status, http.StatusOK, body, itemJSON("A", "item A", 100, 5, 3, 2))
	status, body = a.call(t, "PUT", "/items/A", a.admin, `{"quantity":1}`)
	wantJSON(t, "recount", status, http.StatusOK, body, itemJSON("A", "item A", 100, 1, 3, 2))
	a.handle(t, cancelled(t, held, line("A", 3)))
	a.wantStock(t, "A", 4, 0, 2)
}

func TestItemsAuth(t *testing.T) {
	a := newAPI(t)
	a.stock(t, "A", 100, 5)
	create := `{"sku":"B","name":"b","price_cents":1,"quantity":1}`
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/items", create}, {"PUT", "/items/A", `{"quantity":9}`},
		{"GET", "/items", ""}, {"GET", "/items/A", ""},
	} {
		status, body := a.call(t, c.method, c.path, "", c.body)
		wantError(t, c.method+" "+c.path+" without a token", status, http.StatusUnauthorized, body)
		if got := a.lastResponse.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
			t.Errorf("%s %s: WWW-Authenticate %q", c.method, c.path, got)
		}
		status, body = a.call(t, c.method, c.path, a.admin+"x", c.body)
		wantError(t, c.method+" "+c.path+" with a bad token", status, http.StatusUnauthorized, body)
	}
	// A user is refused before the body is looked at, so even a malformed one gets 403.
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/items", create}, {"PUT", "/items/A", `{"quantity":9}`}, {"POST", "/items", `{`},
	} {
		status, body := a.call(t, c.method, c.path, a.user, c.body)
		wantError(t, c.method+" "+c.path+" as a user", status, http.StatusForbidden, body)
	}
	// The cookie the user function sets works as well as the header.
	req, _ := http.NewRequest("GET", a.srv.URL+"/items/A", nil)
	req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: a.user})
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET with the cookie: %d", resp.StatusCode)
	}
	a.wantStock(t, "A", 5, 0, 0)
	if _, err := (store{db: a.fn.Pool}).Item(t.Context(), "B"); err == nil {
		t.Error("a refused create created B")
	}
}

// Every malformed request is refused with the right status and changes nothing.
func TestItemsBadRequests(t *testing.T) {
	a := newAPI(t)
	a.stock(t, "A", 100, 5)
	huge := `{"sku":"B","name":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `","price_cents":1,"quantity":1}`
	long := strings.Repeat("é", MaxNameRunes+1)
	cases := []struct {
		name, method, path, contentType, body string
		status                                int
	}{
		{"unknown field", "POST", "/items", "", `{"sku":"B","name":"b","price_cents":1,"quantity":1,"colour":"red"}`, 400},
		{"wrong type", "POST", "/items", "", `{"sku":"B","name":"b","price_cents":"1","quantity":1}`, 400},
		{"fractional", "POST", "/items", "", `{"sku":"B","name":"b","price_cents":1.5,"quantity":1}`, 400},
		{"missing sku", "POST", "/items", "", `{"name":"b","price_cents":1,"quantity":1}`, 400},
		{"missing name", "POST", "/items", "", `{"sku":"B","price_cents":1,"quantity":1}`, 400},
		{"missing price", "POST", "/items", "", `{"sku":"B","name":"b","quantity":1}`, 400},
		{"missing quantity", "POST", "/items", "", `{"sku":"B","name":"b","price_cents":1}`, 400},
		{"bad sku", "POST", "/items", "", `{"sku":"-B","name":"b","price_cents":1,"quantity":1}`, 400},
		{"long sku", "POST", "/items", "", `{"sku":"` + strings.Repeat("B", 65) + `","name":"b","price_cents":1,"quantity":1}`, 400},
		{"blank name", "POST", "/items", "", `{"sku":"B","name":"  ","price_cents":1,"quantity":1}`, 400},
		{"long name", "POST", "/items", "", `{"sku":"B","name":"` + long + `","price_cents":1,"quantity":1}`, 400},
		{"NUL in name", "POST", "/items", "", `{"sku":"B","name":"a\u0000b","price_cents":1,"quantity":1}`, 400},
		{"negative price", "POST", "/items", "", `{"sku":"B","name":"b","price_cents":-1,"quantity":1}`, 400},
		{"huge price", "POST", "/items", "", `{"sku":"B","name":"b","price_cents":10000000001,"quantity":1}`, 400},
		{"negative quantity", "POST", "/items", "", `{"sku":"B","name":"b","price_cents":1,"quantity":-1}`, 400},
		{"huge quantity", "POST", "/items", "", `{"sku":"B","name":"b","price_cents":1,"quantity":1000001}`, 400},
		{"overflowing quantity", "POST", "/items", "", `{"sku":"B","name":"b","price_cents":1,"quantity":1e30}`, 400},
		{"array", "POST", "/items", "", `[{"sku":"B","name":"b","price_cents":1,"quantity":1}]`, 400},
		{"two objects", "POST", "/items", "", `{"sku":"B","name":"b","price_cents":1,"quantity":1}{}`, 400},
		{"truncated", "POST", "/items", "", `{"sku":"B","name":"b"`, 400},
		{"empty", "POST", "/items", "", ``, 400},
		{"too large", "POST", "/items", "", huge, 413},
		{"text/plain", "POST", "/items", "text/plain", `{"sku":"B","name":"b","price_cents":1,"quantity":1}`, 415},
		{"no content type", "POST", "/items", "-", `{"sku":"B","name":"b","price_cents":1,"quantity":1}`, 415},
		{"update nothing", "PUT", "/items/A", "", `{}`, 400},
		{"update nulls", "PUT", "/items/A", "", `{"name":null}`, 400},
		{"update sku", "PUT", "/items/A", "", `{"sku":"C"}`, 400},
		{"update negative quantity", "PUT", "/items/A", "", `{"quantity":-5}`, 400},
		{"update huge quantity", "PUT", "/items/A", "", `{"quantity":1000001}`, 400},
		{"update negative price", "PUT", "/items/A", "", `{"name":"ok","price_cents":-1}`, 400},
		{"update empty name", "PUT", "/items/A", "", `{"name":"","quantity":9}`, 400},
		{"update wrong type", "PUT", "/items/A", "", `{"quantity":"9"}`, 400},
		{"update too large", "PUT", "/items/A", "", `{"name":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`, 413},
		{"update form", "PUT", "/items/A", "application/x-www-form-urlencoded", `quantity=9`, 415},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct := c.contentType
			switch ct {
			case "":
				ct = "application/json; charset=utf-8"
			case "-":
				ct = ""
			}
			status, body := a.send(t, c.method, c.path, a.admin, ct, c.body)
			wantError(t, c.name, status, c.status, body)
		})
	}
	a.wantStock(t, "A", 5, 0, 0)
	if it := a.item(t, "A"); it.Name != "item A" || it.PriceCents != 100 {
		t.Errorf("refused updates changed A: %+v", it)
	}
	a.wantConserved(t) // and B was never created
}

// One event over real HTTP, as the broker sends it: a binary-mode CloudEvent POSTed to /, the
// reply in the response, and a redelivery answered with the same reply.
func TestEventOverHTTP(t *testing.T) {
	a := newAPI(t)
	a.stock(t, "A", 100, 5)
	order := newOrderID()
	post := func(id, typ, data string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", a.srv.URL+"/", strings.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("ce-specversion", "1.0")
		req.Header.Set("ce-id", id)
		req.Header.Set("ce-source", events.SourceOrder)
		req.Header.Set("ce-type", typ)
		req.Header.Set("ce-subject", order)
		req.Header.Set("ce-partitionkey", order)
		resp, err := a.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	data := `{"order_id":"` + order + `","user_id":"u-1","items":[{"sku":"A","quantity":2}]}`
	var replyIDs []string
	for range 2 {
		resp := post("evt-1", string(events.OrderRequested), data)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Ce-Type") != string(events.InventoryReserved) {
			t.Fatalf("reply %d %q: %s", resp.StatusCode, resp.Header.Get("Ce-Type"), body)
		}
		var p events.InventoryReservedV1
		if err := json.Unmarshal(body, &p); err != nil || p.TotalCents != 200 || p.OrderID != order {
			t.Errorf("reply body %s (%v)", body, err)
		}
		if resp.Header.Get("Ce-Source") != events.SourceInventory || resp.Header.Get("Ce-Partitionkey") != order {
			t.Errorf("reply headers %v", resp.Header)
		}
		replyIDs = append(replyIDs, resp.Header.Get("Ce-Id"))
	}
	if replyIDs[0] == "" || replyIDs[0] != replyIDs[1] {
		t.Errorf("reply ids %q, want one id twice", replyIDs)
	}
	a.wantStock(t, "A", 3, 2, 0)

	if resp := post("evt-2", string(events.OrderRequested), `{"order_id":`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed data: %d, want 400", resp.StatusCode)
	}
	if resp := post("evt-3", "ORDER_TELEPORTED", data); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown type: %d, want 400", resp.StatusCode)
	}
	cancel := `{"order_id":"` + order + `","items":[{"sku":"A","quantity":2}],"reason":"payment_declined"}`
	if resp := post("evt-4", string(events.OrderCancelled), cancel); resp.StatusCode != http.StatusAccepted {
		t.Errorf("cancel: %d, want 202", resp.StatusCode)
	}
	a.wantStock(t, "A", 5, 0, 0)
	a.wantConserved(t)
}

func TestEveryBadTokenIsRejectedAndChangesNothing(t *testing.T) {
	a := newAPI(t)
	for _, bad := range a.keys.BadTokens(t) {
		t.Run(bad.Name, func(t *testing.T) {
			for _, req := range [][3]string{
				{"GET", "/items", ""},
				{"POST", "/items", `{"sku":"BAD-1","name":"x","price_cents":1,"quantity":1}`},
				{"PUT", "/items/BAD-1", `{"quantity":5}`},
			} {
				status, body := a.call(t, req[0], req[1], bad.Token, req[2])
				if status != http.StatusUnauthorized || body.(map[string]any)["error"] != "invalid token" {
					t.Errorf("%s %s: %d %v, want 401 invalid token", req[0], req[1], status, body)
				}
			}
		})
	}
	if status, items := a.call(t, "GET", "/items", a.user, ""); status != http.StatusOK || len(items.([]any)) != 0 {
		t.Errorf("items after rejected writes: %d %v, want none", status, items)
	}
}
