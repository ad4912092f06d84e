// Package authtest mints access tokens for tests of the functions that verify them, good ones
// (Token) and every kind of bad one a verifier must refuse (BadTokens).
package authtest

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/auth"
)

// Keys is a throwaway signing key pair.
type Keys struct {
	Public  ed25519.PublicKey
	private ed25519.PrivateKey
	signer  *auth.Signer
}

// NewKeys makes a fresh key pair.
func NewKeys(tb testing.TB) *Keys {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &Keys{Public: pub, private: priv, signer: auth.NewSigner(priv, auth.KeyID(pub), 15*time.Minute)}
}

// Verifier verifies tokens from these keys.
func (k *Keys) Verifier() *auth.Verifier { return auth.NewVerifier(auth.StaticKey(k.Public)) }

// Token returns a valid access token for userID with role.
func (k *Keys) Token(tb testing.TB, userID string, role auth.Role) string {
	tok, _, err := k.signer.Sign(auth.Principal{UserID: userID, Email: userID + "@example.com", Role: role}, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// Config is the verifying functions' configuration for these keys.
func (k *Keys) Config() auth.Config {
	return auth.Config{PublicKey: string(auth.EncodePublicKeyPEM(k.Public))}
}

// PrivateKeyPEM is the private key in PKCS #8 PEM form, for configuring the user function.
func (k *Keys) PrivateKeyPEM() string { return string(auth.EncodePrivateKeyPEM(k.private)) }

// BadToken is a token every verifier must reject with 401 "invalid token".
type BadToken struct {
	Name  string
	Token string
}

// BadTokens returns one token per way a token can be wrong, each otherwise valid for a user and
// made against these keys, so a test can loop over them:
//
//	for _, bad := range keys.BadTokens(t) { t.Run(bad.Name, ...) }
func (k *Keys) BadTokens(tb testing.TB) []BadToken {
	tb.Helper()
	now := time.Now()
	valid := func() auth.Claims {
		return auth.Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer:    auth.Issuer,
				Subject:   uuid.NewString(),
				Audience:  jwt.ClaimStrings{auth.Audience},
				IssuedAt:  jwt.NewNumericDate(now),
				NotBefore: jwt.NewNumericDate(now),
				ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)),
				ID:        uuid.NewString(),
			},
			Email: "bad@example.com",
			Role:  auth.RoleUser,
		}
	}
	with := func(change func(*auth.Claims)) auth.Claims {
		c := valid()
		change(&c)
		return c
	}
	sign := func(method jwt.SigningMethod, key any, claims jwt.Claims) string {
		t := jwt.NewWithClaims(method, claims)
		t.Header["kid"] = auth.KeyID(k.Public)
		s, err := t.SignedString(key)
		if err != nil {
			tb.Fatalf("sign bad token: %v", err)
		}
		return s
	}
	ed := func(claims jwt.Claims) string { return sign(jwt.SigningMethodEdDSA, k.private, claims) }

	_, otherKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	good := ed(valid())
	dot := strings.LastIndexByte(good, '.')
	admin := ed(with(func(c *auth.Claims) { c.Role = auth.RoleAdmin }))
	adminBody := admin[:strings.LastIndexByte(admin, '.')]
	return []BadToken{
		{"expired", ed(with(func(c *auth.Claims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(-time.Hour))
			c.NotBefore = c.IssuedAt
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute))
		}))},
		{"not yet valid", ed(with(func(c *auth.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) }))},
		{"no expiry", ed(with(func(c *auth.Claims) { c.ExpiresAt = nil }))},
		{"signed by another key", sign(jwt.SigningMethodEdDSA, otherKey, valid())},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid())},
		{"HS256 with the public key as secret", sign(jwt.SigningMethodHS256, []byte(k.Public), valid())},
		{"HS256 with the public key PEM as secret", sign(jwt.SigningMethodHS256, auth.EncodePublicKeyPEM(k.Public), valid())},
		{"wrong issuer", ed(with(func(c *auth.Claims) { c.Issuer = "someone-else" }))},
		{"wrong audience", ed(with(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"other-service"} }))},
		{"no audience", ed(with(func(c *auth.Claims) { c.Audience = nil }))},
		{"missing role", ed(with(func(c *auth.Claims) { c.Role = "" }))},
		{"unknown role", ed(with(func(c *auth.Claims) { c.Role = "root" }))},
		{"missing subject", ed(with(func(c *auth.Claims) { c.Subject = "" }))},
		{"truncated", good[:len(good)-8]},
		{"signature stripped", good[:dot+1]},
		{"signature of another token", adminBody + good[dot:]},
		{"garbage", "not.a.jwt"},
		{"garbage without dots", "garbage"},
	}
}
