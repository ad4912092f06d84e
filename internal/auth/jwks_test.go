package auth_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/auth/authtest"
)

// jwksHandler serves set (read under mu when given, so a test can change it) and counts requests.
func jwksHandler(set auth.JWKSet, fetches *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if fetches != nil {
			fetches.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// tokenWithKid signs valid claims with priv under the header kid.
func tokenWithKid(t *testing.T, priv ed25519.PrivateKey, kid string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: auth.Issuer, Subject: "u1", Audience: jwt.ClaimStrings{auth.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))},
		Role: auth.RoleUser,
	})
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWKS(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, otherPriv, _ := ed25519.GenerateKey(nil)
	kid := auth.KeyID(pub)
	set := auth.JWKSet{Keys: []auth.JWK{
		auth.PublicJWK(pub),
		{KeyType: "EC", Curve: "P-256", X: "AAAA", KeyID: "ec"},
		{KeyType: "oct", KeyID: "hmac", X: "c2VjcmV0"},
		{KeyType: "OKP", Curve: "X25519", X: auth.PublicJWK(otherPub).X, KeyID: "x25519"},
		{KeyType: "OKP", Curve: "Ed25519", X: auth.PublicJWK(otherPub).X, KeyID: "enc", Use: "enc"},
		{KeyType: "OKP", Curve: "Ed25519", X: "short", KeyID: "short"},
	}}
	var fetches atomic.Int32
	srv := httptest.NewServer(jwksHandler(set, &fetches))
	defer srv.Close()
	clk := &clock{now: time.Now()}
	v := auth.NewVerifier(auth.NewJWKSForTest(srv.URL, srv.Client(), time.Minute, time.Hour, clk.Now))
	ctx := context.Background()

	// Many concurrent first uses fetch once.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := v.Verify(ctx, tokenWithKid(t, priv, kid)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := fetches.Load(); n != 1 {
		t.Fatalf("fetches after first use = %d, want 1", n)
	}

	// Unknown kids refetch at most once per interval (the first fetch counts).
	unknown := func(wantFetches int32) {
		t.Helper()
		for range 5 {
			_, err := v.Verify(ctx, tokenWithKid(t, otherPriv, "unknown"))
			requireInvalidToken(t, err)
			if n := fetches.Load(); n != wantFetches {
				t.Fatalf("fetches = %d, want %d", n, wantFetches)
			}
		}
	}
	unknown(1)
	clk.Advance(time.Minute - time.Second)
	unknown(1)
	clk.Advance(time.Second)
	unknown(2)
	clk.Advance(time.Minute)
	unknown(3)

	// Keys that are not Ed25519 signing keys never verify, whatever the token claims.
	clk.Advance(time.Minute)
	for _, kid := range []string{"ec", "hmac", "x25519", "enc", "short", ""} {
		_, err := v.Verify(ctx, tokenWithKid(t, otherPriv, kid))
		requireInvalidToken(t, err)
	}
	// The right kid with the wrong key's signature is still a bad signature.
	_, err := v.Verify(ctx, tokenWithKid(t, otherPriv, kid))
	requireInvalidToken(t, err)
}

func TestJWKSOutage(t *testing.T) {
	keys := authtest.NewKeys(t)
	var down atomic.Bool
	var fetches atomic.Int32
	serve := jwksHandler(auth.JWKSet{Keys: []auth.JWK{auth.PublicJWK(keys.Public)}}, &fetches)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		serve(w, r)
	}))
	defer srv.Close()
	clk := &clock{now: time.Now()}
	v := auth.NewVerifier(auth.NewJWKSForTest(srv.URL, srv.Client(), time.Minute, time.Hour, clk.Now))
	ctx := context.Background()
	tok := keys.Token(t, "u1", auth.RoleUser)

	// No keys yet and none to be had: not the token's fault, so not a 401.
	down.Store(true)
	_, err := v.Verify(ctx, tok)
	if err == nil || apperr.CodeOf(err) != apperr.Internal {
		t.Fatalf("outage before first fetch: err = %v (code %s), want Internal", err, apperr.CodeOf(err))
	}
	// Retries are held off for the retry interval, then succeed once the server is back.
	down.Store(false)
	if _, err := v.Verify(ctx, tok); apperr.CodeOf(err) != apperr.Internal {
		t.Fatalf("within the retry interval: %v", err)
	}
	clk.Advance(auth.JWKSRetryInterval)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("after recovery: %v", err)
	}

	// Once the set is too old it is refreshed; while that fails, the old keys still verify.
	down.Store(true)
	clk.Advance(2 * time.Hour)
	before := fetches.Load()
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("stale keys during an outage: %v", err)
	}
	down.Store(false)
	clk.Advance(auth.JWKSRetryInterval)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if fetches.Load() != before+1 {
		t.Fatalf("stale set was not refreshed: fetches %d → %d", before, fetches.Load())
	}
}

// A key withdrawn from the set stops verifying once the cached set is older than its max age.
func TestJWKSKeyWithdrawn(t *testing.T) {
	keys := authtest.NewKeys(t)
	var mu sync.Mutex
	set := auth.JWKSet{Keys: []auth.JWK{auth.PublicJWK(keys.Public)}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()
	clk := &clock{now: time.Now()}
	v := auth.NewVerifier(auth.NewJWKSForTest(srv.URL, srv.Client(), time.Minute, time.Hour, clk.Now))
	tok := keys.Token(t, "u1", auth.RoleUser)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	set.Keys = nil
	mu.Unlock()
	clk.Advance(time.Hour)
	_, err := v.Verify(context.Background(), tok)
	requireInvalidToken(t, err)
}
