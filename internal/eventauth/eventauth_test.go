package eventauth

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

const (
	orderAudience = "serving.knative.dev/service/ordersaga/order"
	trigger       = "system:serviceaccount:ordersaga:order-inventory-reserved-oidc-eventing.knative.dev-trigger"
)

// serveIssuer starts an issuer on a loopback HTTP server and returns it with the Config of a
// receiver (order) that accepts trigger, found through discovery.
func serveIssuer(t *testing.T) (*Issuer, Config) {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	var iss *Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	iss, err := NewIssuer(srv.URL, key)
	if err != nil {
		t.Fatal(err)
	}
	return iss, Config{Issuer: srv.URL, Audience: orderAudience, Senders: []string{trigger}}
}

func verifier(t *testing.T, cfg Config) *Verifier {
	t.Helper()
	v, err := cfg.Verifier()
	if err != nil || v == nil {
		t.Fatalf("Verifier: %v %v", v, err)
	}
	return v
}

func mint(t *testing.T, iss *Issuer, subject, audience string, ttl time.Duration) string {
	t.Helper()
	tok, _, err := iss.Token(subject, audience, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifyAcceptsTheAllowedSender(t *testing.T) {
	iss, cfg := serveIssuer(t)
	sub, err := verifier(t, cfg).Verify(context.Background(), mint(t, iss, trigger, orderAudience, time.Minute))
	if err != nil || sub != trigger {
		t.Fatalf("Verify = %q, %v", sub, err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	iss, cfg := serveIssuer(t)
	v := verifier(t, cfg)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	elsewhere, _ := NewIssuer("http://127.0.0.1:1", iss.key) // same key, another issuer name
	impostor, _ := NewIssuer(iss.url, otherKey)              // the right name, another key
	impostor.keyID = iss.keyID                               // even claiming the right kid
	past, _ := NewIssuer(iss.url, iss.key)
	past.now = func() time.Time { return time.Now().Add(-time.Hour) }
	future, _ := NewIssuer(iss.url, iss.key)
	future.now = func() time.Time { return time.Now().Add(time.Hour) }
	good := mint(t, iss, trigger, orderAudience, time.Minute)
	dot := strings.LastIndexByte(good, '.')
	claims := jwt.RegisteredClaims{Issuer: iss.url, Subject: trigger, Audience: jwt.ClaimStrings{orderAudience},
		IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))}
	sign := func(m jwt.SigningMethod, key any, c jwt.Claims) string {
		tok := jwt.NewWithClaims(m, c)
		tok.Header["kid"] = iss.keyID
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	noExpiry := claims
	noExpiry.ExpiresAt = nil
	noSubject := claims
	noSubject.Subject = ""

	for _, c := range []struct {
		name, token string
		want        error
	}{
		{"wrong issuer", mint(t, elsewhere, trigger, orderAudience, time.Minute), ErrInvalidToken},
		{"wrong audience", mint(t, iss, trigger, "eventing.knative.dev/broker/ordersaga/default", time.Minute), ErrInvalidToken},
		{"expired", mint(t, past, trigger, orderAudience, time.Minute), ErrInvalidToken},
		{"issued in the future", mint(t, future, trigger, orderAudience, time.Minute), ErrInvalidToken},
		{"no expiry", sign(jwt.SigningMethodEdDSA, iss.key, noExpiry), ErrInvalidToken},
		{"no subject", sign(jwt.SigningMethodEdDSA, iss.key, noSubject), ErrInvalidToken},
		{"signed by another key", mint(t, impostor, trigger, orderAudience, time.Minute), ErrInvalidToken},
		{"signature of another token", func() string {
			o := mint(t, iss, "x", orderAudience, time.Minute)
			return o[:strings.LastIndexByte(o, '.')] + good[dot:]
		}(), ErrInvalidToken},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims), ErrInvalidToken},
		{"HS256 with the public key as secret", sign(jwt.SigningMethodHS256, []byte(iss.key.Public().(ed25519.PublicKey)), claims), ErrInvalidToken},
		{"garbage", "not.a.jwt", ErrInvalidToken},
		{"another sender", mint(t, iss, "system:serviceaccount:ordersaga:default", orderAudience, time.Minute), ErrSender},
		{"a sender of another namespace", mint(t, iss, "system:serviceaccount:attacker:"+strings.TrimPrefix(trigger, "system:serviceaccount:ordersaga:"), orderAudience, time.Minute), ErrSender},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub, err := v.Verify(context.Background(), c.token)
			if err != c.want {
				t.Fatalf("Verify = %q, %v; want %v", sub, err, c.want)
			}
		})
	}
}

func TestAuthenticateNeedsABearerHeader(t *testing.T) {
	iss, cfg := serveIssuer(t)
	v := verifier(t, cfg)
	good := mint(t, iss, trigger, orderAudience, time.Minute)
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic " + good, good} {
		r := httptest.NewRequest("POST", "/", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: good}) // cookies never count
		if _, err := v.Authenticate(r); err != ErrNoToken {
			t.Errorf("Authorization %.12q: %v, want ErrNoToken", h, err)
		}
	}
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Authorization", "bearer "+good)
	if sub, err := v.Authenticate(r); err != nil || sub != trigger {
		t.Fatalf("good header: %q %v", sub, err)
	}
}

func TestRefuseStatuses(t *testing.T) {
	for err, want := range map[error]int{ErrNoToken: 401, ErrInvalidToken: 401, ErrSender: 403, auth.ErrKeysUnavailable: 500} {
		w := httptest.NewRecorder()
		if got := Refuse(w, err); got != want || w.Code != want {
			t.Errorf("%v: %d/%d, want %d", err, got, w.Code, want)
		}
		if (want == 401) != (w.Header().Get("WWW-Authenticate") != "") {
			t.Errorf("%v: WWW-Authenticate %q", err, w.Header().Get("WWW-Authenticate"))
		}
	}
}

// A senders list entry ending in "*" is a prefix, as in an EventPolicy.
func TestSenderPrefix(t *testing.T) {
	iss, cfg := serveIssuer(t)
	cfg.Senders = []string{"system:serviceaccount:ordersaga:order-*"}
	v := verifier(t, cfg)
	if _, err := v.Verify(context.Background(), mint(t, iss, trigger, orderAudience, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), mint(t, iss, "system:serviceaccount:ordersaga:orde", orderAudience, time.Minute)); err != ErrSender {
		t.Fatalf("shorter subject: %v", err)
	}
}

// A discovery document naming another issuer is refused: its keys are not this issuer's. That
// is an outage of the keys (500, retried), not a verdict on the token.
func TestDiscoveryOfAnotherIssuer(t *testing.T) {
	iss, cfg := serveIssuer(t)
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, 200, Discovery{Issuer: iss.url, JWKSURI: iss.url + JWKSPath})
	}))
	defer liar.Close()
	cfg.Issuer = liar.URL
	liarIss, _ := NewIssuer(liar.URL, iss.key)
	_, err := verifier(t, cfg).Verify(context.Background(), mint(t, liarIss, trigger, orderAudience, time.Minute))
	if !auth.KeysUnavailable(err) || apperr.CodeOf(err) != apperr.Internal {
		t.Fatalf("err = %v, want keys unavailable", err)
	}
}

// A Kubernetes service-account issuer signs with RS256: the verifier takes its JWKS, and a
// mounted RSA public key.
func TestRS256FromJWKSAndFromAKeyFile(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	set := auth.JWKSet{Keys: []auth.JWK{{KeyType: "RSA", KeyID: "k8s", Alg: "RS256", Use: "sig",
		N: b64(key.N.Bytes()), E: b64(big.NewInt(int64(key.E)).Bytes())}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { httpapi.WriteJSON(w, 200, set) }))
	defer srv.Close()
	const issuer = "https://kubernetes.default.svc.cluster.local"
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{Issuer: issuer, Subject: trigger,
		Audience: jwt.ClaimStrings{orderAudience}, IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))})
	tok.Header["kid"] = "k8s"
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Issuer: issuer, Audience: orderAudience, Senders: []string{trigger}, JWKSURL: srv.URL + JWKSPath}
	if sub, err := verifier(t, cfg).Verify(context.Background(), signed); err != nil || sub != trigger {
		t.Fatalf("JWKS: %q %v", sub, err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	file := filepath.Join(t.TempDir(), "sa.pub")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = Config{Issuer: issuer, Audience: orderAudience, Senders: []string{trigger}, PublicKeyFile: file}
	if sub, err := verifier(t, cfg).Verify(context.Background(), signed); err != nil || sub != trigger {
		t.Fatalf("key file: %q %v", sub, err)
	}
	// RS256 claims cannot be verified as HS256 with the public key.
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, tok.Claims)
	hs.Header["kid"] = "k8s"
	forged, _ := hs.SignedString(der)
	if _, err := verifier(t, cfg).Verify(context.Background(), forged); err != ErrInvalidToken {
		t.Fatalf("HS256 with the RSA key: %v", err)
	}
}

func TestConfig(t *testing.T) {
	if v, err := (Config{Mode: "off"}).Verifier(); v != nil || err != nil {
		t.Fatalf("off: %v %v", v, err)
	}
	full := Config{Issuer: "https://issuer.example", Audience: orderAudience, Senders: []string{trigger}}
	if _, err := full.Verifier(); err != nil {
		t.Fatalf("https issuer: %v", err)
	}
	for name, change := range map[string]func(*Config){
		"nothing set (on by default)": func(c *Config) { *c = Config{} },
		"bad mode":                    func(c *Config) { c.Mode = "maybe" },
		"no audience":                 func(c *Config) { c.Audience = "" },
		"no senders":                  func(c *Config) { c.Senders = nil },
		"a sender of '*' alone":       func(c *Config) { c.Senders = []string{"*"} },
		"plain http over a network":   func(c *Config) { c.Issuer = "http://issuer.example" },
		"plain http JWKS":             func(c *Config) { c.JWKSURL = "http://10.0.0.1/jwks" },
		"missing key file":            func(c *Config) { c.PublicKeyFile = "/nonexistent" },
		"missing CA file":             func(c *Config) { c.CAFile = "/nonexistent" },
	} {
		c := full
		change(&c)
		if v, err := c.Verifier(); err == nil {
			t.Errorf("%s: no error (%v)", name, v)
		}
	}
}

func TestMinterReusesTokensUntilNearExpiry(t *testing.T) {
	iss, cfg := serveIssuer(t)
	now := time.Now()
	iss.now = func() time.Time { return now }
	m := NewMinter(iss, trigger, 10*time.Minute)
	a, _ := m.Token(orderAudience)
	if b, _ := m.Token(orderAudience); b != a {
		t.Fatal("a fresh token was not reused")
	}
	if c, _ := m.Token("eventing.knative.dev/broker/ordersaga/default"); c == a {
		t.Fatal("another audience got the same token")
	}
	now = now.Add(7 * time.Minute)
	c, _ := m.Token(orderAudience)
	if c == a {
		t.Fatal("a token with less than a third of its life left was reused")
	}
	iss.now = time.Now
	if _, err := verifier(t, cfg).Verify(context.Background(), mint(t, iss, trigger, orderAudience, time.Minute)); err != nil {
		t.Fatalf("issuer back on the real clock: %v", err)
	}
}

func TestTokenFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var f TokenFiles
	if err := f.Decode(`{"http://order.ns.svc/":"` + write("order", "tok-order\n") + `","http://broker/ns/":"` + write("broker", "tok-broker") + `"}`); err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]string{"http://order.ns.svc/": "tok-order", "http://broker/ns/default": "tok-broker"} {
		if got, err := f.For(target); err != nil || got != want {
			t.Errorf("For(%s) = %q %v", target, got, err)
		}
	}
	for _, target := range []string{"http://order.ns.svc.example.com/", "http://other/"} {
		if _, err := f.For(target); err == nil {
			t.Errorf("For(%s): a token for a target nobody configured", target)
		}
	}
	for _, bad := range []string{`[]`, `{"http://order.ns.svc":"x"}`, `{"/relative/":"x"}`} {
		var g TokenFiles
		if err := g.Decode(bad); err == nil {
			t.Errorf("Decode(%s): no error", bad)
		}
	}
}

// BenchmarkVerify is what an event delivery pays at its receiver for a token it has seen before
// (a dispatcher reuses its token); the first sight of a token adds one signature check (~60 µs
// on the 2-core test machine).
func BenchmarkVerify(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(nil)
	iss, _ := NewIssuer("http://127.0.0.1:1", key)
	pub := key.Public()
	v, err := NewVerifier(iss.URL(), orderAudience, []string{trigger}, func(context.Context, string) (crypto.PublicKey, error) { return pub, nil })
	if err != nil {
		b.Fatal(err)
	}
	tok, _, _ := iss.Token(trigger, orderAudience, time.Minute)
	for b.Loop() {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMinterCached is what a dispatcher pays per delivery for its token.
func BenchmarkMinterCached(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(nil)
	iss, _ := NewIssuer("http://127.0.0.1:1", key)
	m := NewMinter(iss, trigger, 30*time.Minute)
	for b.Loop() {
		if _, err := m.Token(orderAudience); err != nil {
			b.Fatal(err)
		}
	}
}

// A token verified (and remembered) before its key left the key set is refused afterwards, as
// is one whose kid now names another key: the remembered verdict holds only for the same key.
func TestVerifyRefusesARememberedTokenOnceItsKeyIsWithdrawn(t *testing.T) {
	iss, _ := serveIssuer(t)
	pub := iss.key.Public()
	var keys sync.Map // kid -> crypto.PublicKey, the receiver's current key set
	keys.Store(iss.keyID, pub)
	v, err := NewVerifier(iss.URL(), orderAudience, []string{trigger}, func(_ context.Context, kid string) (crypto.PublicKey, error) {
		if key, ok := keys.Load(kid); ok {
			return key, nil
		}
		return nil, fmt.Errorf("no key %q", kid)
	})
	if err != nil {
		t.Fatal(err)
	}
	token := mint(t, iss, trigger, orderAudience, time.Hour)
	for range 2 { // verified, then remembered
		if sub, err := v.Verify(context.Background(), token); err != nil || sub != trigger {
			t.Fatalf("Verify with the key in the set = %q, %v", sub, err)
		}
	}

	other, _, _ := ed25519.GenerateKey(nil)
	keys.Store(iss.keyID, other) // the kid now names another key
	if _, err := v.Verify(context.Background(), token); err != ErrInvalidToken {
		t.Errorf("Verify once its kid names another key: %v, want ErrInvalidToken", err)
	}
	keys.Store(iss.keyID, pub)
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("Verify with the key back: %v", err)
	}
	keys.Delete(iss.keyID) // withdrawn
	if _, err := v.Verify(context.Background(), token); err != ErrInvalidToken {
		t.Errorf("Verify once its key is withdrawn: %v, want ErrInvalidToken", err)
	}
}
