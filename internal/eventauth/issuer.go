package eventauth

import (
	"crypto/ed25519"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// Paths the Issuer serves, those of a Kubernetes service-account issuer, so a verifier is
// configured the same way for both.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/openid/v1/jwks"
)

// Discovery is the part of an OIDC discovery document a verifier reads.
type Discovery struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
	// The rest describes the tokens for completeness, as a service-account issuer does.
	ResponseTypes    []string `json:"response_types_supported"`
	SubjectTypes     []string `json:"subject_types_supported"`
	SigningAlgValues []string `json:"id_token_signing_alg_values_supported"`
}

// Issuer mints sender tokens with one Ed25519 key: the local stack's stand-in for the
// Kubernetes service-account issuer.
type Issuer struct {
	url   string
	key   ed25519.PrivateKey
	keyID string
	now   func() time.Time
}

// NewIssuer returns an Issuer whose tokens name url as their issuer and are signed by key.
// Errors: url not an absolute http(s) URL.
func NewIssuer(url string, key ed25519.PrivateKey) (*Issuer, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, errors.New("eventauth: the issuer must be an http(s) URL")
	}
	return &Issuer{url: strings.TrimSuffix(url, "/"), key: key,
		keyID: auth.KeyID(key.Public().(ed25519.PublicKey)), now: time.Now}, nil
}

// URL is the issuer (the tokens' iss).
func (i *Issuer) URL() string { return i.url }

// Token issues a token for subject with audience that expires ttl from now, and returns it with
// its expiry.
func (i *Issuer) Token(subject, audience string, ttl time.Duration) (string, time.Time, error) {
	now := i.now()
	expires := now.Add(ttl).Truncate(time.Second)
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.RegisteredClaims{
		Issuer:    i.url,
		Subject:   subject,
		Audience:  jwt.ClaimStrings{audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(expires),
		ID:        uuid.NewString(),
	})
	t.Header["kid"] = i.keyID
	signed, err := t.SignedString(i.key)
	return signed, expires, err
}

// Handler serves the discovery document and the key set, and nothing else.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, Discovery{Issuer: i.url, JWKSURI: i.url + JWKSPath,
			ResponseTypes: []string{"id_token"}, SubjectTypes: []string{"public"},
			SigningAlgValues: []string{jwt.SigningMethodEdDSA.Alg()}})
	})
	mux.HandleFunc("GET "+JWKSPath, func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, auth.JWKSet{Keys: []auth.JWK{auth.PublicJWK(i.key.Public().(ed25519.PublicKey))}})
	})
	return mux
}
