package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
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

// ParsePrivateKeyPEM reads an Ed25519 private key in PKCS #8 PEM form ("PRIVATE KEY"), the form
// `openssl genpkey -algorithm ed25519` writes.
func ParsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("private key: no PEM block")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("private key: PEM block is %q, want PKCS #8 \"PRIVATE KEY\"", block.Type)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("private key: not an Ed25519 key")
	}
	return priv, nil
}

// EncodePrivateKeyPEM writes priv in PKCS #8 PEM form.
func EncodePrivateKeyPEM(priv ed25519.PrivateKey) []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(priv) // cannot fail for an Ed25519 key
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// JWK is a public key as a JSON Web Key (RFC 7517; OKP keys per RFC 8037). Only the fields a
// verification key needs are modelled: Ed25519 (OKP), and the RSA and P-256 keys a Kubernetes
// service-account issuer publishes.
type JWK struct {
	KeyType string `json:"kty"`
	Curve   string `json:"crv,omitempty"`
	X       string `json:"x,omitempty"`
	Y       string `json:"y,omitempty"`
	N       string `json:"n,omitempty"`
	E       string `json:"e,omitempty"`
	KeyID   string `json:"kid,omitempty"`
	Alg     string `json:"alg,omitempty"`
	Use     string `json:"use,omitempty"`
}

// JWKSet is a JSON Web Key Set, the document served at /.well-known/jwks.json.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK describes pub as a signing JWK named by its KeyID.
func PublicJWK(pub ed25519.PublicKey) JWK {
	return JWK{KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub),
		KeyID: KeyID(pub), Alg: jwt.SigningMethodEdDSA.Alg(), Use: "sig"}
}

// KeyID names pub by its RFC 7638 JWK thumbprint, so every replica holding the same key gives it
// the same kid without configuration, and a new key gets a new kid.
func KeyID(pub ed25519.PublicKey) string {
	// RFC 7638 section 3.2: the required members in lexicographic order, no whitespace.
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// minRSABits is the smallest RSA modulus a key set may offer: shorter keys can be factored.
const minRSABits = 2048

// PublicKey returns the signing key j describes: ed25519.PublicKey (OKP Ed25519, alg EdDSA),
// *rsa.PublicKey (RSA of at least 2048 bits, alg RS256) or *ecdsa.PublicKey (EC P-256, alg
// ES256). Errors when j is anything else, an encryption key, or malformed.
func (j JWK) PublicKey() (crypto.PublicKey, error) {
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("key %q: use %q is not sig", j.KeyID, j.Use)
	}
	b64 := base64.RawURLEncoding.Strict()
	switch {
	case j.KeyType == "OKP" && j.Curve == "Ed25519":
		if j.Alg != "" && j.Alg != jwt.SigningMethodEdDSA.Alg() {
			return nil, fmt.Errorf("key %q: alg %q is not EdDSA", j.KeyID, j.Alg)
		}
		x, err := b64.DecodeString(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key %q: x is not a base64url Ed25519 public key", j.KeyID)
		}
		return ed25519.PublicKey(x), nil
	case j.KeyType == "RSA":
		if j.Alg != "" && j.Alg != jwt.SigningMethodRS256.Alg() {
			return nil, fmt.Errorf("key %q: alg %q is not RS256", j.KeyID, j.Alg)
		}
		n, errN := b64.DecodeString(j.N)
		e, errE := b64.DecodeString(j.E)
		if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("key %q: n or e is not base64url", j.KeyID)
		}
		key := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if key.N.BitLen() < minRSABits || key.E < 3 || key.E%2 == 0 {
			return nil, fmt.Errorf("key %q: not an RSA key of at least %d bits", j.KeyID, minRSABits)
		}
		return key, nil
	case j.KeyType == "EC" && j.Curve == "P-256":
		if j.Alg != "" && j.Alg != jwt.SigningMethodES256.Alg() {
			return nil, fmt.Errorf("key %q: alg %q is not ES256", j.KeyID, j.Alg)
		}
		x, errX := b64.DecodeString(j.X)
		y, errY := b64.DecodeString(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("key %q: x or y is not a P-256 coordinate", j.KeyID)
		}
		// The uncompressed point encoding lets the standard library check it is on the curve.
		key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", j.KeyID, err)
		}
		return key, nil
	}
	return nil, fmt.Errorf("key %q: kty %q crv %q is not a supported signing key", j.KeyID, j.KeyType, j.Curve)
}
