package user

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// frozen stops the function's clock, so the limits' buckets refill only when the test says.
func (fx *fixture) frozen() *time.Time {
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	fx.fn.now = func() time.Time { return now }
	return &now
}

// from sends a login or signup as the gateway forwards it for the client at addr.
func (fx *fixture) from(t *testing.T, addr, path, email, password string) *httptest.ResponseRecorder {
	t.Helper()
	return fx.do(t, "POST", path, creds(email, password), "X-Forwarded-For", addr)
}

func expectRetryAfter(t *testing.T, w *httptest.ResponseRecorder, status int, says string) {
	t.Helper()
	expectStatus(t, w, status)
	if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After = %q, want whole seconds", w.Header().Get("Retry-After"))
	}
	if msg := decode[map[string]string](t, w)["error"]; !strings.Contains(msg, says) {
		t.Errorf("error %q does not say %q", msg, says)
	}
}

func TestLoginsPerAccountAreLimited(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.AttemptsPerAccount = 3 })
	now := fx.frozen()
	expectStatus(t, fx.do(t, "POST", "/signup", creds("alice@example.com", "password-1")), http.StatusCreated)
	// The signup was one attempt on the account; two guesses from two addresses are the others.
	for i := range 2 {
		expectError(t, fx.from(t, fmt.Sprintf("198.51.100.%d", i), "/login", "Alice@Example.com", "wrong-password"), http.StatusUnauthorized, "")
	}
	// The fourth, from yet another address and even with the right password, is refused before
	// any hash: the account's bucket is empty.
	runs := fx.fn.hasher.runs.Load()
	expectRetryAfter(t, fx.from(t, "198.51.100.9", "/login", "alice@example.com", "password-1"), http.StatusTooManyRequests, "for this account")
	if fx.fn.hasher.runs.Load() != runs {
		t.Error("a refused login still cost a password hash")
	}
	// Another account is not affected.
	expectError(t, fx.from(t, "198.51.100.9", "/login", "bob@example.com", "password-1"), http.StatusUnauthorized, "")
	// A minute later the bucket has refilled.
	*now = now.Add(time.Minute)
	if w := fx.from(t, "198.51.100.9", "/login", "alice@example.com", "password-1"); w.Code != http.StatusOK {
		t.Errorf("after a minute: status %d, want 200", w.Code)
	}
}

func TestAttemptsPerClientAreLimited(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.AttemptsPerClient = 4 })
	fx.frozen()
	// Signups and logins share the client's bucket: 4 attempts on 4 accounts.
	for i := range 2 {
		expectStatus(t, fx.from(t, "203.0.113.5", "/signup", fmt.Sprintf("u%d@example.com", i), "password-1"), http.StatusCreated)
		expectStatus(t, fx.from(t, "203.0.113.5", "/login", fmt.Sprintf("u%d@example.com", i), "password-1"), http.StatusOK)
	}
	expectRetryAfter(t, fx.from(t, "203.0.113.5", "/login", "u9@example.com", "password-1"), http.StatusTooManyRequests, "from this address")
	expectRetryAfter(t, fx.from(t, "203.0.113.5", "/signup", "new@example.com", "password-1"), http.StatusTooManyRequests, "from this address")
	if n := fx.users(t); n != 2 {
		t.Errorf("%d accounts, want the 2 allowed signups' only", n)
	}
	// Another client has its own bucket.
	expectStatus(t, fx.from(t, "203.0.113.6", "/login", "u0@example.com", "password-1"), http.StatusOK)
}

// With every hashing slot busy and the queue full, a login is refused at once with 503 and
// Retry-After, instead of waiting behind the flood.
func TestAFullHashQueueIs503AtOnce(t *testing.T) {
	fx := newFixture(t, nil)
	expectStatus(t, fx.do(t, "POST", "/signup", creds("alice@example.com", "password-1")), http.StatusCreated)
	h := fx.fn.hasher
	for range cap(h.slots) {
		h.slots <- struct{}{} // every slot held, never released during the test
	}
	h.waiting.Store(h.maxQueue)
	for _, path := range []string{"/login", "/signup"} {
		// Were it to wait, it would wait until this context ends and fail otherwise.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		r := httptest.NewRequestWithContext(ctx, "POST", path, strings.NewReader(creds("alice2@example.com", "password-1")))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		fx.h.ServeHTTP(w, r)
		cancel()
		expectRetryAfter(t, w, http.StatusServiceUnavailable, "try again")
	}
	if n := fx.users(t); n != 1 {
		t.Errorf("%d accounts, want 1: the refused signup created one", n)
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	l := newKeyedLimiter(5, 100)
	now := time.Now()
	for i := range 1000 {
		l.wait(strconv.Itoa(i), now) // every bucket active: none has refilled
		if l.size() > 100 {
			t.Fatalf("%d buckets after %d keys, want at most 100", l.size(), i+1)
		}
	}
	// A key just seen keeps its (emptied) bucket until it is evicted.
	for range 5 {
		l.wait("hot", now)
	}
	if l.wait("hot", now) == 0 {
		t.Error("a key over its limit was let through")
	}
}
