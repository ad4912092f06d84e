package auth

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// ParsePublicKeyPEM reads an Ed25519 public key in PKIX PEM form ("PUBLIC KEY").
func ParsePublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("public key: no PEM block")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("public key: not an Ed25519 key")
	}
	return pub, nil
}

// EncodePublicKeyPEM writes pub in PKIX PEM form.
func EncodePublicKeyPEM(pub ed25519.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub) // cannot fail for an Ed25519 key
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Signer issues access tokens. Only the user function holds one.
type Signer struct {
	key   ed25519.PrivateKey
	keyID string
	ttl   time.Duration
}

// NewSigner returns a Signer whose tokens are signed by key, name keyID in their header, and
// expire ttl after issue.
func NewSigner(key ed25519.PrivateKey, keyID string, ttl time.Duration) *Signer {
	return &Signer{key: key, keyID: keyID, ttl: ttl}
}

// Sign issues an access token for p and returns it with its expiry.
func (s *Signer) Sign(p Principal, now time.Time) (string, time.Time, error) {
	expires := now.Add(s.ttl).Truncate(time.Second)
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   p.UserID,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(expires),
			ID:        uuid.NewString(),
		},
		Email: p.Email,
		Role:  p.Role,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = s.keyID
	signed, err := t.SignedString(s.key)
	return signed, expires, err
}
