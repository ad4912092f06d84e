package order

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/auth"
)

// An Idempotency-Key that is not printable ASCII, or too long, is the client's mistake: 400 with
// a JSON error that says so, and no order (it used to reach PostgreSQL and fail with 500).
func TestABadIdempotencyKeyIs400AndCreatesNothing(t *testing.T) {
	fx := newFixture(t)
	token := fx.keys.Token(t, "alice", auth.RoleUser)
	body := `{"items":[{"sku":"BOOK-1","quantity":1}]}`
	for name, key := range map[string]string{
		"latin-1 bytes": "k-\xe9\xff",
		"invalid UTF-8": "\x80\x81",
		"valid UTF-8":   "clé",
		"a tab":         "k\t1",
		"too long":      strings.Repeat("k", maxIdempotencyKey+1),
	} {
		resp := fx.do(t, "POST", "/orders", token, body, "Idempotency-Key", key)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, resp.StatusCode)
			continue
		}
		if msg := decodeBody[map[string]string](t, resp)["error"]; !strings.Contains(msg, "Idempotency-Key") {
			t.Errorf("%s: error %q does not name the header", name, msg)
		}
	}
	if n := fx.countRows(t, "orders"); n != 0 {
		t.Errorf("%d orders created by refused requests", n)
	}
	if n := fx.countRows(t, "outbox"); n != 0 {
		t.Errorf("%d outbox rows written by refused requests", n)
	}
	// The longest printable key is fine.
	if resp := fx.do(t, "POST", "/orders", token, body, "Idempotency-Key", strings.Repeat("~", maxIdempotencyKey)); resp.StatusCode != http.StatusAccepted {
		t.Errorf("a %d-character printable key: status %d, want 202", maxIdempotencyKey, resp.StatusCode)
	}
}
