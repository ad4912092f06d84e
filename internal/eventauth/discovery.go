package eventauth

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ordersaga/ordersaga/internal/auth"
)

// discoveryRetry holds off a failed discovery, so a flood of deliveries while the issuer is
// away does not become a flood of requests to it.
const discoveryRetry = time.Second

// discover is a key source that reads issuer's discovery document on first use, checks that it
// names issuer itself (OIDC Discovery section 4.3: a document for another issuer is refused), and
// then uses its jwks_uri (which must be fetchable: https, or loopback http) through auth's cache.
func discover(issuer string, client *http.Client) auth.PublicKeyFunc {
	var (
		mu    sync.Mutex
		keys  auth.PublicKeyFunc
		retry time.Time
	)
	return func(ctx context.Context, kid string) (crypto.PublicKey, error) {
		mu.Lock()
		if keys == nil {
			if time.Now().Before(retry) {
				mu.Unlock()
				return nil, auth.ErrKeysUnavailable
			}
			jwks, err := jwksURI(ctx, issuer, client)
			if err != nil {
				retry = time.Now().Add(discoveryRetry)
				mu.Unlock()
				return nil, fmt.Errorf("%w: %v", auth.ErrKeysUnavailable, err)
			}
			keys = auth.JWKSPublicKeys(jwks, client)
		}
		k := keys
		mu.Unlock()
		return k(ctx, kid)
	}
}

// jwksURI fetches issuer's discovery document and returns its key set's URL.
func jwksURI(ctx context.Context, issuer string, client *http.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, keyFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuer, "/")+DiscoveryPath, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery: HTTP %d", resp.StatusCode)
	}
	var doc Discovery
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery names issuer %q, not %q", doc.Issuer, issuer)
	}
	if err := fetchable(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery jwks_uri %q: %w", doc.JWKSURI, err)
	}
	return doc.JWKSURI, nil
}
