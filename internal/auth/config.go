package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Config is how a verifying function finds the user function's public key; embed it in the
// function's envconfig struct. Set one of the two; PublicKey takes precedence.
type Config struct {
	// PublicKey is the Ed25519 public key in PEM form (AUTH_PUBLIC_KEY).
	PublicKey string `envconfig:"AUTH_PUBLIC_KEY"`
	// JWKSURL is the user function's key set, e.g. http://user.default.svc/.well-known/jwks.json
	// (AUTH_JWKS_URL); keys are fetched on first use and cached (see JWKS).
	JWKSURL string `envconfig:"AUTH_JWKS_URL"`
}

// Verifier builds the Verifier the configuration describes.
func (c Config) Verifier() (*Verifier, error) {
	switch {
	case c.PublicKey != "":
		pub, err := ParsePublicKeyPEM([]byte(c.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("AUTH_PUBLIC_KEY: %w", err)
		}
		return NewVerifier(StaticKey(pub)), nil
	case c.JWKSURL != "":
		u, err := url.Parse(c.JWKSURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("AUTH_JWKS_URL must be an absolute http(s) URL")
		}
		return NewVerifier(JWKS(c.JWKSURL, &http.Client{Timeout: jwksFetchTimeout})), nil
	default:
		return nil, errors.New("AUTH_PUBLIC_KEY or AUTH_JWKS_URL is required")
	}
}
