package auth

import (
	"errors"
)

// Config is how a verifying function finds the user function's public key; embed it in the
// function's envconfig struct.
type Config struct {
	// PublicKey is the Ed25519 public key in PEM form (AUTH_PUBLIC_KEY).
	PublicKey string `envconfig:"AUTH_PUBLIC_KEY"`
}

// Verifier builds the Verifier the configuration describes.
func (c Config) Verifier() (*Verifier, error) {
	if c.PublicKey == "" {
		return nil, errors.New("AUTH_PUBLIC_KEY is required")
	}
	pub, err := ParsePublicKeyPEM([]byte(c.PublicKey))
	if err != nil {
		return nil, err
	}
	return NewVerifier(StaticKey(pub)), nil
}
