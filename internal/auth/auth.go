// Package auth verifies the access tokens the user function issues, for the functions that serve
// REST (order, inventory). Tokens are JWTs signed with Ed25519 (EdDSA) by the user function's
// private key; everyone else holds only the public key, configured (AUTH_PUBLIC_KEY) or fetched
// from the user function's /.well-known/jwks.json (AUTH_JWKS_URL, see JWKS). Only EdDSA is
// accepted: "none", HS256 and any other algorithm (the key-confusion attacks) are rejected before
// the key is consulted.
package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ordersaga/ordersaga/internal/apperr"
)

// Token claims every access token carries.
const (
	Issuer     = "ordersaga-user"
	Audience   = "ordersaga"
	CookieName = "ordersaga_token"
)

// Role is what a user may do.
type Role string

const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Claims are the access token's claims.
type Claims struct {
	jwt.RegisteredClaims
	Email string `json:"email"`
	Role  Role   `json:"role"`
}

// Principal is the verified caller of a request.
type Principal struct {
	UserID string
	Email  string
	Role   Role
}

// IsAdmin reports whether p has the admin role.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

// KeyFunc returns the public key that verifies tokens signed under key id kid.
type KeyFunc func(ctx context.Context, kid string) (ed25519.PublicKey, error)

// StaticKey is a KeyFunc for a single configured public key.
func StaticKey(pub ed25519.PublicKey) KeyFunc {
	return func(context.Context, string) (ed25519.PublicKey, error) { return pub, nil }
}

// Verifier checks access tokens.
type Verifier struct {
	key      KeyFunc
	verified VerifiedTokens[verifiedBy]
}

// verifiedBy is what a token proved and the key that proved it: a token is served from the
// cache only while its key id still gives that key, so a key withdrawn from the JWKS stops
// verifying its tokens as soon as the key set is refreshed, cached or not.
type verifiedBy struct {
	principal Principal
	kid       string
	key       ed25519.PublicKey
}

// NewVerifier returns a Verifier that takes its keys from key.
func NewVerifier(key KeyFunc) *Verifier { return &Verifier{key: key} }

// errInvalidToken is all a client learns about a rejected token: which check failed stays here.
var errInvalidToken = apperr.Errorf(apperr.Unauthorized, "invalid token")

// Verify checks token's algorithm, signature, expiry (with 5 s of leeway for clock skew), issuer
// and audience, and returns its principal. Errors: Unauthorized for any bad token (always the
// same message); a plain (Internal) error when the keys cannot be fetched (JWKS), which is not
// the token's fault.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if hit, ok := v.verified.Get(token, time.Now()); ok {
		if key, err := v.key(ctx, hit.kid); err == nil && key.Equal(hit.key) {
			return hit.principal, nil // the signature this key checked before is still good
		}
	}
	var claims Claims
	var by verifiedBy
	_, err := jwt.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		by.kid, _ = t.Header["kid"].(string)
		key, err := v.key(ctx, by.kid)
		by.key = key
		return key, err
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithStrictDecoding(), // one encoding per token: no malleable padding bits
	)
	if err != nil {
		if errors.Is(err, errKeysUnavailable) {
			return Principal{}, err // transient: the caller answers 500 and the client retries
		}
		return Principal{}, errInvalidToken
	}
	if claims.Subject == "" || (claims.Role != RoleUser && claims.Role != RoleAdmin) {
		return Principal{}, errInvalidToken
	}
	by.principal = Principal{UserID: claims.Subject, Email: claims.Email, Role: claims.Role}
	v.verified.Put(token, by, claims.ExpiresAt.Add(leeway))
	return by.principal, nil
}

// leeway is the clock skew allowed on a token's times.
const leeway = 5 * time.Second

// TokenFrom returns the request's access token: the Authorization Bearer header, else the cookie.
func TokenFrom(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, token, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
		return ""
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value
	}
	return ""
}

// Authenticate returns the caller of r. Errors: Unauthorized when the token is missing or invalid;
// Internal (a plain error) when the keys cannot be fetched, as Verify.
func (v *Verifier) Authenticate(r *http.Request) (Principal, error) {
	token := TokenFrom(r)
	if token == "" {
		return Principal{}, apperr.Errorf(apperr.Unauthorized, "authentication required")
	}
	return v.Verify(r.Context(), token)
}

// ErrForbidden is returned when the caller lacks the role an action needs.
var ErrForbidden error = apperr.Errorf(apperr.Forbidden, "admin role required")

// RequireAdmin returns ErrForbidden unless p is an admin.
func RequireAdmin(p Principal) error {
	if !p.IsAdmin() {
		return ErrForbidden
	}
	return nil
}
