// Package smoke walks the REST contract (docs/CONTRACTS.md, "REST") against a running stack, as
// an outside client would: raw HTTP and JSON field names, no shared types, so that a change of
// the contract shows here even when every package agrees with itself. `make smoke` runs it
// against `make run`; the fresh-clone test runs it too.
package smoke

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Config says where the stack is and who its admin is.
type Config struct {
	BaseURL       string
	AdminEmail    string
	AdminPassword string
	// Settle bounds the wait for the order to reach a terminal state.
	Settle time.Duration
}

// Run walks the contract and returns every problem found (none when the contract holds), or an
// error when the stack cannot be reached at all.
func Run(ctx context.Context, cfg Config) ([]string, error) {
	if cfg.Settle == 0 {
		cfg.Settle = 60 * time.Second
	}
	w := &walk{ctx: ctx, base: strings.TrimRight(cfg.BaseURL, "/"), client: &http.Client{Timeout: 15 * time.Second}}
	if _, _, _, err := w.call("GET", "/health/readiness", nil, ""); err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w (is `make run` running?)", w.base, err)
	}
	w.run(cfg)
	return w.problems, nil
}

type walk struct {
	ctx      context.Context
	base     string
	client   *http.Client
	problems []string
}

type object = map[string]any

// call makes one request and returns its status, its body as an object (nil when it is not
// one) and its headers; raw is the body as received.
func (w *walk) call(method, path string, body any, token string) (int, object, http.Header, error) {
	code, obj, h, _, err := w.callRaw(method, path, body, token)
	return code, obj, h, err
}

func (w *walk) callRaw(method, path string, body any, token string) (int, object, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(w.ctx, method, w.base+path, rd)
	if err != nil {
		return 0, nil, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, nil, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, resp.Header, raw, err
	}
	var obj object
	_ = json.Unmarshal(raw, &obj) // not every answer is an object; checks below say what they need
	return resp.StatusCode, obj, resp.Header, raw, nil
}

// expect records a problem unless ok.
func (w *walk) expect(what string, ok bool, detail ...any) {
	if !ok {
		w.problems = append(w.problems, what+": "+strings.TrimSpace(fmt.Sprintln(detail...)))
	}
}

// status calls and expects the given status, returning the body.
func (w *walk) status(want int, method, path string, body any, token string) (object, http.Header) {
	code, obj, h, err := w.call(method, path, body, token)
	w.expect(fmt.Sprintf("%s %s is %d", method, path, want), err == nil && code == want, code, obj, err)
	if code >= 400 && err == nil {
		msg, ok := obj["error"].(string)
		w.expect(fmt.Sprintf("%s %s answers a JSON error", method, path), ok && msg != "", obj)
	}
	return obj, h
}

func (w *walk) fields(what string, obj object, names ...string) {
	var missing []string
	for _, n := range names {
		if _, ok := obj[n]; !ok {
			missing = append(missing, n)
		}
	}
	w.expect(what+" fields", len(missing) == 0, "missing", missing, "in", obj)
}

func (w *walk) run(cfg Config) {
	run := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	email, password := "smoke-"+run+"@example.com", "smoke-password-1"

	w.status(http.StatusCreated, "POST", "/signup", object{"email": email, "password": password}, "")
	w.status(http.StatusConflict, "POST", "/signup", object{"email": email, "password": password}, "")
	w.status(http.StatusBadRequest, "POST", "/signup", object{"email": email}, "")
	w.status(http.StatusUnauthorized, "POST", "/login", object{"email": email, "password": "wrong-password-1"}, "")
	login, h := w.status(http.StatusOK, "POST", "/login", object{"email": email, "password": password}, "")
	w.fields("login", login, "access_token", "expires_at")
	cookie := strings.ToLower(h.Get("Set-Cookie"))
	w.expect("login sets an HttpOnly, SameSite cookie", strings.Contains(cookie, "httponly") && strings.Contains(cookie, "samesite"), cookie)
	user, _ := login["access_token"].(string)
	adminLogin, _ := w.status(http.StatusOK, "POST", "/login", object{"email": cfg.AdminEmail, "password": cfg.AdminPassword}, "")
	admin, _ := adminLogin["access_token"].(string)
	me, _ := w.status(http.StatusOK, "GET", "/me", nil, user)
	w.expect("GET /me is the signed-in user", me["email"] == email, me)
	w.status(http.StatusUnauthorized, "GET", "/me", nil, user+"x")
	jwks, _ := w.status(http.StatusOK, "GET", "/.well-known/jwks.json", nil, "")
	keys, _ := jwks["keys"].([]any)
	w.expect("the JWKS has a key", len(keys) > 0, jwks)
	if user == "" || admin == "" {
		return
	}

	sku := "SMOKE-" + strings.ToUpper(run)
	item := object{"sku": sku, "name": "smoke", "price_cents": 500, "quantity": 3}
	w.status(http.StatusForbidden, "POST", "/items", item, user)
	w.status(http.StatusCreated, "POST", "/items", item, admin)
	w.status(http.StatusConflict, "POST", "/items", item, admin)
	view, _ := w.status(http.StatusOK, "GET", "/items/"+sku, nil, user)
	w.fields("item view", view, "sku", "name", "price_cents", "available", "reserved", "sold")
	w.status(http.StatusNotFound, "GET", "/items/NO-SUCH-"+sku, nil, user)

	w.status(http.StatusUnauthorized, "GET", "/orders", nil, "")
	w.status(http.StatusBadRequest, "POST", "/orders", object{"items": []object{{"sku": sku, "quantity": -1}}}, user)
	order, _ := w.status(http.StatusAccepted, "POST", "/orders", object{"items": []object{{"sku": sku, "quantity": 2}}}, user)
	w.fields("order view", order, "id", "user_id", "status", "items", "inventory_reserved", "total_cents", "created_at", "updated_at")
	w.expect("a new order is REQUESTED", order["status"] == "REQUESTED", order)
	id, _ := order["id"].(string)
	if id == "" {
		return
	}
	// Another user's order does not exist for them.
	other := "smoke-other-" + run + "@example.com"
	w.status(http.StatusCreated, "POST", "/signup", object{"email": other, "password": password}, "")
	otherLogin, _ := w.status(http.StatusOK, "POST", "/login", object{"email": other, "password": password}, "")
	otherToken, _ := otherLogin["access_token"].(string)
	w.status(http.StatusNotFound, "GET", "/orders/"+id, nil, otherToken)
	status := w.settle(id, user, cfg.Settle)
	stock, _ := w.status(http.StatusOK, "GET", "/items/"+sku, nil, user)
	switch status {
	case "COMPLETED":
		w.expect("a completed order's stock is sold", num(stock["sold"]) == 2 && num(stock["available"]) == 1 && num(stock["reserved"]) == 0, stock)
	case "CANCELLED":
		w.expect("a cancelled order's stock is released", num(stock["available"]) == 3 && num(stock["reserved"]) == 0, stock)
	}
	code, _, _, raw, err := w.callRaw("GET", "/orders", nil, user)
	var list []object
	w.expect("GET /orders is 200 with a JSON array", err == nil && code == http.StatusOK && json.Unmarshal(raw, &list) == nil, code, string(raw))
	w.expect("GET /orders lists exactly the user's order", len(list) == 1 && list[0]["id"] == id, string(raw))
}

// settle waits for order id to reach a terminal state and returns it.
func (w *walk) settle(id, token string, limit time.Duration) string {
	deadline := time.Now().Add(limit)
	var status any
	for time.Now().Before(deadline) && w.ctx.Err() == nil {
		_, order, _, err := w.call("GET", "/orders/"+id, nil, token)
		if err == nil {
			if status = order["status"]; status == "COMPLETED" || status == "CANCELLED" {
				return status.(string)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	w.expect(fmt.Sprintf("the order reaches COMPLETED or CANCELLED within %s", limit), false, "last status", status)
	return ""
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}
