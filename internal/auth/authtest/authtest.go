// Package authtest mints access tokens for tests of the functions that verify them.
package authtest

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/auth"
)

// Keys is a throwaway signing key pair.
type Keys struct {
	Public ed25519.PublicKey
	signer *auth.Signer
}

// NewKeys makes a fresh key pair.
func NewKeys(tb testing.TB) *Keys {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &Keys{Public: pub, signer: auth.NewSigner(priv, "test", 15*time.Minute)}
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
