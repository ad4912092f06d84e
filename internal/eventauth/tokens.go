package eventauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Minter is the token source of one identity of the local stack (a Trigger's dispatcher): it
// mints tokens with the stack's Issuer and reuses each until a third of its lifetime is left, so
// a delivery costs no signature in the common case.
type Minter struct {
	issuer  *Issuer
	subject string
	ttl     time.Duration

	mu     sync.Mutex
	cached map[string]minted
}

type minted struct {
	token   string
	renewAt time.Time
}

// NewMinter returns the token source of subject, whose tokens live ttl.
func NewMinter(issuer *Issuer, subject string, ttl time.Duration) *Minter {
	return &Minter{issuer: issuer, subject: subject, ttl: ttl, cached: map[string]minted{}}
}

// Token returns a token for audience, cached while it has more than a third of its life left.
// Errors: signing failed.
func (m *Minter) Token(audience string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.issuer.now()
	if c, ok := m.cached[audience]; ok && now.Before(c.renewAt) {
		return c.token, nil
	}
	token, expires, err := m.issuer.Token(m.subject, audience, m.ttl)
	if err != nil {
		return "", err
	}
	m.cached[audience] = minted{token: token, renewAt: expires.Add(-m.ttl / 3)}
	return token, nil
}

// TokenFiles are the tokens of a sender that someone else keeps fresh: on a cluster, projected
// service-account token volumes (one per receiver's audience, renewed by the kubelet); locally,
// files the stack rewrites. It maps a target URL prefix to the file holding the token for that
// target's audience; the file is read on every use, so a renewed token is picked up at once. It
// decodes from a JSON object (EVENT_AUTH_TOKEN_FILES='{"http://order.ordersaga.svc.cluster.local/":"/var/run/ordersaga/tokens/order",...}').
type TokenFiles map[string]string

// Decode reads the JSON object form (envconfig.Decoder).
func (f *TokenFiles) Decode(value string) error {
	if strings.TrimSpace(value) == "" {
		*f = nil
		return nil
	}
	m := map[string]string{}
	if err := json.Unmarshal([]byte(value), &m); err != nil {
		return fmt.Errorf("a JSON object of target URL prefix to token file: %w", err)
	}
	for prefix := range m {
		// A prefix must end in "/": "http://order.ns.svc" would also match
		// "http://order.ns.svc.example.com/" and hand order's token to someone else.
		if u, err := url.Parse(prefix); err != nil || u.Host == "" || !strings.HasSuffix(prefix, "/") {
			return fmt.Errorf("%q is not an absolute URL ending in /", prefix)
		}
	}
	*f = m
	return nil
}

// ErrNoTokenFile means no token file is configured for the target.
var ErrNoTokenFile = errors.New("no token file for this target")

// For reads the token for target: the file of the longest URL prefix of target. Errors:
// ErrNoTokenFile, the file's read error, or an empty file.
func (f TokenFiles) For(target string) (string, error) {
	if u, err := url.Parse(target); err == nil && u.Path == "" {
		target += "/" // an origin alone, as K_SINK may be: its path is "/"
	}
	best := ""
	for prefix := range f {
		if strings.HasPrefix(target, prefix) && len(prefix) > len(best) {
			best = prefix
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: %s", ErrNoTokenFile, target)
	}
	data, err := os.ReadFile(f[best])
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("token file %s is empty", f[best])
	}
	return token, nil
}
