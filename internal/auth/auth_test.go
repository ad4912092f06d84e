package auth_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/auth/authtest"
)

// requireInvalidToken fails unless err is the one answer a client gets for any bad token.
func requireInvalidToken(t testing.TB, err error) {
	t.Helper()
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.Unauthorized || e.Message != "invalid token" {
		t.Fatalf("err = %#v, want Unauthorized \"invalid token\"", err)
	}
}

func TestVerifyAcceptsAValidToken(t *testing.T) {
	keys := authtest.NewKeys(t)
	p, err := keys.Verifier().Verify(context.Background(), keys.Token(t, "u1", auth.RoleAdmin))
	if err != nil {
		t.Fatal(err)
	}
	if p != (auth.Principal{UserID: "u1", Email: "u1@example.com", Role: auth.RoleAdmin}) {
		t.Fatalf("principal = %+v", p)
	}
}

func TestVerifyRejectsBadTokens(t *testing.T) {
	keys := authtest.NewKeys(t)
	v := keys.Verifier()
	for _, bad := range keys.BadTokens(t) {
		t.Run(bad.Name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), bad.Token)
			requireInvalidToken(t, err)
		})
	}
}

func TestAuthenticate(t *testing.T) {
	keys := authtest.NewKeys(t)
	v := keys.Verifier()
	tok := keys.Token(t, "u1", auth.RoleUser)

	r := httptest.NewRequest("GET", "/", nil)
	if _, err := v.Authenticate(r); apperr.CodeOf(err) != apperr.Unauthorized {
		t.Fatalf("no token: %v", err)
	}
	r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: tok})
	if p, err := v.Authenticate(r); err != nil || p.UserID != "u1" {
		t.Fatalf("cookie: %+v %v", p, err)
	}
	r.Header.Set("Authorization", "Bearer garbage") // the header wins over the cookie
	requireInvalidToken(t, func() error { _, err := v.Authenticate(r); return err }())
}

func TestPrivateKeyPEMRoundTrip(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	got, err := auth.ParsePrivateKeyPEM(auth.EncodePrivateKeyPEM(priv))
	if err != nil || !got.Equal(priv) {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "not pem", string(auth.EncodePublicKeyPEM(priv.Public().(ed25519.PublicKey)))} {
		if _, err := auth.ParsePrivateKeyPEM([]byte(bad)); err == nil {
			t.Errorf("ParsePrivateKeyPEM(%.20q) succeeded", bad)
		}
	}
}

// RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
func TestKeyIDIsTheRFC7638Thumbprint(t *testing.T) {
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if got, want := auth.KeyID(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Fatalf("KeyID = %s, want %s", got, want)
	}
}

func TestConfigVerifier(t *testing.T) {
	keys := authtest.NewKeys(t)
	tok := keys.Token(t, "u1", auth.RoleUser)

	// PublicKey takes precedence over a JWKS URL that would not even answer.
	cfg := keys.Config()
	cfg.JWKSURL = "http://127.0.0.1:1/.well-known/jwks.json"
	v, err := cfg.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("public key: %v", err)
	}

	srv := httptest.NewServer(jwksHandler(auth.JWKSet{Keys: []auth.JWK{auth.PublicJWK(keys.Public)}}, nil))
	defer srv.Close()
	v, err = auth.Config{JWKSURL: srv.URL}.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("jwks: %v", err)
	}

	for _, bad := range []auth.Config{{}, {JWKSURL: "/relative"}, {JWKSURL: "ftp://x/"}, {PublicKey: "nope"}} {
		if _, err := bad.Verifier(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
