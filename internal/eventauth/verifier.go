// Package eventauth authenticates event deliveries the way Knative Eventing's
// authentication-oidc feature does: every delivery carries "Authorization: Bearer <JWT>", a
// token issued for the sender's identity (sub, e.g. system:serviceaccount:<ns>:<sa>) with the
// receiver's audience (aud, e.g. eventing.knative.dev/broker/<ns>/<name> for a Broker,
// serving.knative.dev/service/<ns>/<name> for a Knative Service), and the receiver accepts it
// only from the senders its EventPolicies name.
//
// Verifier is the one check, used by every event endpoint: the functions' POST / and the local
// stack's broker ingress. Its keys come from configuration only (a mounted public key, a JWKS
// URL, or the configured issuer's discovery document), never from the token. Issuer is the local
// stack's token issuer; TokenSource is how a sender gets its tokens.
package eventauth

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
)

// Leeway is the clock skew allowed on exp, nbf and iat.
const Leeway = 5 * time.Second

// Algorithms a sender's token may be signed with: the local issuer's EdDSA and what a Kubernetes
// service-account issuer uses (RS256 by default, ES256 with an EC key). The JWT library checks
// that the key found for the token is of the algorithm's type, so none of them can be verified
// with another kind of key, and "none" or HMAC never is.
var Algorithms = []string{jwt.SigningMethodEdDSA.Alg(), jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}

// Errors a client sees. Which check failed stays in the server: the sender learns nothing it
// could use to adjust a forgery.
var (
	ErrNoToken      error = apperr.Errorf(apperr.Unauthorized, "authentication required")
	ErrInvalidToken error = apperr.Errorf(apperr.Unauthorized, "invalid token")
	ErrSender       error = apperr.Errorf(apperr.Forbidden, "sender not allowed")
)

// ServiceAccount is the subject Kubernetes gives a service account's tokens.
func ServiceAccount(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// Verifier checks the tokens of event deliveries to one receiver.
type Verifier struct {
	issuer   string
	audience string
	senders  []string
	key      auth.PublicKeyFunc
	verified auth.VerifiedTokens[provedBy]
}

// provedBy is what a verified token proved (its sender) and the key that checked its signature.
type provedBy struct {
	sender string
	kid    string
	key    crypto.PublicKey
}

// sameKey reports whether a and b are the same public key (every key type of the standard
// library has Equal).
func sameKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// NewVerifier returns a Verifier for tokens from issuer with audience, accepting the senders
// (subjects) listed, and taking its keys from key. A sender ending in "*" is a prefix, as in
// an EventPolicy's from.sub. Errors: an empty issuer or audience, or no senders.
func NewVerifier(issuer, audience string, senders []string, key auth.PublicKeyFunc) (*Verifier, error) {
	if issuer == "" || audience == "" || len(senders) == 0 || key == nil {
		return nil, errors.New("eventauth: an issuer, an audience, at least one sender and a key source are required")
	}
	for _, s := range senders {
		if strings.TrimSuffix(s, "*") == "" {
			return nil, errors.New("eventauth: a sender may not be empty or \"*\" alone")
		}
	}
	return &Verifier{issuer: issuer, audience: audience, senders: senders, key: key}, nil
}

// Audience is the audience the Verifier requires.
func (v *Verifier) Audience() string { return v.audience }

// Verify checks token's algorithm, signature, issuer, audience, expiry (required; Leeway of
// skew) and returns its subject once the subject is an allowed sender. Errors: ErrInvalidToken
// (401) for any bad token; ErrSender (403) for a good token of a sender not allowed; a plain
// (Internal) error when the keys cannot be fetched, which is not the token's fault.
func (v *Verifier) Verify(ctx context.Context, token string) (string, error) {
	if hit, ok := v.verified.Get(token, time.Now()); ok {
		// It passed every check and the senders do not change, but its key may have been
		// withdrawn from the key set since: then it is checked again, and refused.
		if key, err := v.key(ctx, hit.kid); err == nil && sameKey(key, hit.key) {
			return hit.sender, nil
		}
	}
	var claims jwt.RegisteredClaims
	var by provedBy
	_, err := jwt.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		by.kid, _ = t.Header["kid"].(string)
		key, err := v.key(ctx, by.kid)
		by.key = key
		return key, err
	},
		jwt.WithValidMethods(Algorithms),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithStrictDecoding(),
	)
	if err != nil {
		if auth.KeysUnavailable(err) {
			return "", err
		}
		return "", ErrInvalidToken
	}
	if claims.Subject == "" {
		return "", ErrInvalidToken
	}
	if !v.allowed(claims.Subject) {
		return "", ErrSender
	}
	by.sender = claims.Subject
	v.verified.Put(token, by, claims.ExpiresAt.Add(Leeway))
	return claims.Subject, nil
}

func (v *Verifier) allowed(subject string) bool {
	for _, s := range v.senders {
		if prefix, ok := strings.CutSuffix(s, "*"); ok {
			if strings.HasPrefix(subject, prefix) {
				return true
			}
		} else if subject == s {
			return true
		}
	}
	return false
}

// Authenticate verifies r's bearer token and returns the sender. Errors: ErrNoToken (401) when
// r has none, otherwise as Verify. Only the Authorization header counts: cookies are the REST
// API's, never an event sender's.
func (v *Verifier) Authenticate(r *http.Request) (string, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", ErrNoToken
	}
	return v.Verify(r.Context(), strings.TrimSpace(token))
}

// Refuse answers a refused delivery: 401 with a Bearer challenge, 403, or 500 for a key outage,
// in plain text as the event endpoints answer. It is the one place that maps Authenticate's
// errors, shared by every event endpoint.
func Refuse(w http.ResponseWriter, err error) int {
	status := http.StatusInternalServerError
	msg := "cannot verify the sender now"
	switch apperr.CodeOf(err) {
	case apperr.Unauthorized:
		status, msg = http.StatusUnauthorized, apperr.MessageOf(err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="ordersaga-events"`)
	case apperr.Forbidden:
		status, msg = http.StatusForbidden, apperr.MessageOf(err)
	}
	http.Error(w, msg, status)
	return status
}
