package auth

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// JWKS tuning. A token naming a kid we do not know makes us refetch the set at most once per
// JWKSRefetchInterval, so forged kids cannot turn verification into a flood of requests to the
// user function; a failed fetch is retried after jwksRetryInterval. A set older than JWKSMaxAge
// is refreshed on use, so a key withdrawn from the set stops verifying within that time.
const (
	JWKSRefetchInterval = time.Minute
	JWKSMaxAge          = time.Hour
	jwksRetryInterval   = time.Second
	jwksFetchTimeout    = 5 * time.Second
	jwksMaxBytes        = 1 << 20
)

// errUnknownKey means the token names a key the JWKS does not hold: the token is invalid.
var errUnknownKey = errors.New("auth: unknown key id")

// errKeysUnavailable means the key set could not be fetched: a transient failure, not the
// token's fault, so Verify answers it with an internal error (5xx) rather than 401.
var errKeysUnavailable = errors.New("auth: signing keys unavailable")

// ErrKeysUnavailable is errKeysUnavailable for other key sources (eventauth's discovery) to
// wrap, so that KeysUnavailable recognises their outages too.
var ErrKeysUnavailable = errKeysUnavailable

// KeysUnavailable reports whether err says the signing keys could not be fetched (a JWKS
// outage): the caller answers 5xx, as the token may well be good.
func KeysUnavailable(err error) bool { return errors.Is(err, errKeysUnavailable) }

// PublicKeyFunc returns the public key registered under key id kid, of whatever type the key set
// holds (ed25519.PublicKey, *rsa.PublicKey, *ecdsa.PublicKey). The JWT library checks that a
// token's algorithm fits the key's type, so a key can only verify the algorithm it is for.
type PublicKeyFunc func(ctx context.Context, kid string) (crypto.PublicKey, error)

// JWKSPublicKeys is JWKS for verifiers that accept more than Ed25519 (the event senders'
// tokens, which a Kubernetes service-account issuer signs with RS256 or ES256): the same cache,
// keeping every signing key it can parse (JWK.PublicKey).
func JWKSPublicKeys(url string, client *http.Client) PublicKeyFunc {
	return newJWKS(url, client, JWKSRefetchInterval, JWKSMaxAge, time.Now).key
}

// JWKS is a KeyFunc that fetches the user function's JSON Web Key Set from url (its
// /.well-known/jwks.json) with client (nil: a client with a 5 s timeout) and caches the keys by
// kid. The set is fetched on first use, again when a token names an unknown kid (at most once
// per JWKSRefetchInterval) and when it is older than JWKSMaxAge (keeping the old keys if that
// fetch fails). Keys that are not Ed25519 signing keys are ignored, so a token naming one is
// rejected; so is a token with no kid.
func JWKS(url string, client *http.Client) KeyFunc {
	return newJWKS(url, client, JWKSRefetchInterval, JWKSMaxAge, time.Now).ed25519Key
}

type jwksCache struct {
	url      string
	client   *http.Client
	interval time.Duration
	maxAge   time.Duration
	now      func() time.Time

	keys  atomic.Pointer[jwksKeys] // read without locking on the hot path
	fetch chan struct{}            // a one-slot semaphore: one fetch at a time, waiters honour ctx
	next  time.Time                // earliest next fetch for an unknown kid; guarded by fetch
}

type jwksKeys struct {
	byID    map[string]crypto.PublicKey
	fetched time.Time
}

func newJWKS(url string, client *http.Client, interval, maxAge time.Duration, now func() time.Time) *jwksCache {
	if client == nil {
		client = &http.Client{Timeout: jwksFetchTimeout}
	}
	return &jwksCache{url: url, client: client, interval: interval, maxAge: maxAge, now: now,
		fetch: make(chan struct{}, 1)}
}

// ed25519Key is key for the access tokens' verifier, which takes Ed25519 keys only: any other
// key under kid is as good as unknown.
func (c *jwksCache) ed25519Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	k, err := c.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	ed, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errUnknownKey
	}
	return ed, nil
}

func (c *jwksCache) key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	if kid == "" {
		return nil, errUnknownKey
	}
	cur := c.keys.Load()
	if cur != nil && c.now().Sub(cur.fetched) < c.maxAge {
		if k, ok := cur.byID[kid]; ok {
			return k, nil
		}
	}
	select {
	case c.fetch <- struct{}{}:
	case <-ctx.Done():
		if cur != nil {
			return lookup(cur, kid) // a refresh is under way; meanwhile the keys we have will do
		}
		return nil, fmt.Errorf("%w: %v", errKeysUnavailable, ctx.Err())
	}
	defer func() { <-c.fetch }()

	// Another caller may have fetched while we waited.
	cur = c.keys.Load()
	fresh := cur != nil && c.now().Sub(cur.fetched) < c.maxAge
	if fresh {
		if k, ok := cur.byID[kid]; ok {
			return k, nil
		}
	}
	if c.now().Before(c.next) {
		if cur == nil {
			return nil, fmt.Errorf("%w: waiting to retry %s", errKeysUnavailable, c.url)
		}
		return lookup(cur, kid)
	}
	byID, err := c.get(ctx)
	if err != nil {
		c.next = c.now().Add(min(jwksRetryInterval, c.interval))
		if cur == nil {
			return nil, fmt.Errorf("%w: %v", errKeysUnavailable, err)
		}
		return lookup(cur, kid) // stale keys beat no keys while the user function is away
	}
	cur = &jwksKeys{byID: byID, fetched: c.now()}
	c.keys.Store(cur)
	c.next = c.now().Add(c.interval)
	return lookup(cur, kid)
}

func lookup(keys *jwksKeys, kid string) (crypto.PublicKey, error) {
	if k, ok := keys.byID[kid]; ok {
		return k, nil
	}
	return nil, errUnknownKey
}

// get fetches and parses the key set, keeping only the signing keys that have a kid and parse
// (JWK.PublicKey).
func (c *jwksCache) get(ctx context.Context) (map[string]crypto.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", c.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.url, err)
	}
	if len(body) > jwksMaxBytes {
		return nil, fmt.Errorf("GET %s: key set larger than %d bytes", c.url, jwksMaxBytes)
	}
	var set JWKSet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.url, err)
	}
	byID := make(map[string]crypto.PublicKey, len(set.Keys))
	for _, j := range set.Keys {
		if j.KeyID == "" {
			continue
		}
		if k, err := j.PublicKey(); err == nil {
			byID[j.KeyID] = k
		}
	}
	return byID, nil
}
