package eventauth

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/internal/auth"
)

// Config is how an event endpoint verifies its senders, read from the environment by the
// function runtime (envconfig names in the tags). Authentication is on unless EVENT_AUTH=off:
// a function with an event endpoint and no EVENT_AUTH_* settings does not start.
type Config struct {
	// Mode is "on" (the default) or "off" (EVENT_AUTH), the explicit opt-out for a cluster
	// without Knative's authentication-oidc feature.
	Mode string `envconfig:"EVENT_AUTH" default:"on"`
	// Issuer is the tokens' iss (EVENT_AUTH_ISSUER): the cluster's service-account issuer, or
	// the local stack's.
	Issuer string `envconfig:"EVENT_AUTH_ISSUER"`
	// Audience is this receiver's (EVENT_AUTH_AUDIENCE), e.g. serving.knative.dev/service/ordersaga/order.
	Audience string `envconfig:"EVENT_AUTH_AUDIENCE"`
	// Senders are the subjects accepted (EVENT_AUTH_SENDERS, comma separated; a trailing "*"
	// is a prefix), what the receiver's EventPolicies resolve to.
	Senders []string `envconfig:"EVENT_AUTH_SENDERS"`
	// PublicKeyFile is a mounted PEM public key (EVENT_AUTH_PUBLIC_KEY_FILE; Ed25519, RSA or
	// P-256); when set, it is the only key and nothing is fetched.
	PublicKeyFile string `envconfig:"EVENT_AUTH_PUBLIC_KEY_FILE"`
	// JWKSURL is the issuer's key set (EVENT_AUTH_JWKS_URL); when unset it is the jwks_uri of
	// the issuer's discovery document (Issuer + /.well-known/openid-configuration). Either way
	// the URL comes from configuration, never from a token.
	JWKSURL string `envconfig:"EVENT_AUTH_JWKS_URL"`
	// CAFile is the PEM bundle that https key fetches trust, and the only one
	// (EVENT_AUTH_CA_FILE; on a cluster the service account's ca.crt).
	CAFile string `envconfig:"EVENT_AUTH_CA_FILE"`
	// TokenFile is a bearer token sent with the key fetches (EVENT_AUTH_JWKS_TOKEN_FILE): the
	// Kubernetes API serves its key set to service accounts only. Read on every fetch, as the
	// kubelet rotates it.
	TokenFile string `envconfig:"EVENT_AUTH_JWKS_TOKEN_FILE"`
}

// keyFetchTimeout bounds one fetch of the discovery document or the key set.
const keyFetchTimeout = 5 * time.Second

// Verifier builds the Verifier the configuration describes; nil (and no error) when Mode is
// "off". Errors: a setting missing or malformed, an unreadable key or CA file. Nothing is
// fetched here: keys are fetched on first use, so a function starts while its issuer is away.
func (c Config) Verifier() (*Verifier, error) {
	switch c.Mode {
	case "off":
		return nil, nil
	case "on", "":
	default:
		return nil, fmt.Errorf("EVENT_AUTH must be on or off, not %q", c.Mode)
	}
	if c.Issuer == "" || c.Audience == "" || len(c.Senders) == 0 {
		return nil, errors.New("EVENT_AUTH_ISSUER, EVENT_AUTH_AUDIENCE and EVENT_AUTH_SENDERS are required (or EVENT_AUTH=off to accept unauthenticated events)")
	}
	key, err := c.keys()
	if err != nil {
		return nil, err
	}
	return NewVerifier(c.Issuer, c.Audience, c.Senders, key)
}

// keys is the key source: the mounted key, the configured JWKS, or the issuer's discovery.
func (c Config) keys() (auth.PublicKeyFunc, error) {
	if c.PublicKeyFile != "" {
		pub, err := readPublicKey(c.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("EVENT_AUTH_PUBLIC_KEY_FILE: %w", err)
		}
		return func(context.Context, string) (crypto.PublicKey, error) { return pub, nil }, nil
	}
	client, err := c.client()
	if err != nil {
		return nil, err
	}
	if c.JWKSURL != "" {
		if err := fetchable(c.JWKSURL); err != nil {
			return nil, fmt.Errorf("EVENT_AUTH_JWKS_URL: %w", err)
		}
		return auth.JWKSPublicKeys(c.JWKSURL, client), nil
	}
	if err := fetchable(c.Issuer); err != nil {
		return nil, fmt.Errorf("EVENT_AUTH_ISSUER (its discovery document gives the key set): %w", err)
	}
	return discover(c.Issuer, client), nil
}

// fetchable accepts https URLs, and http ones only on the loopback interface (the local stack):
// keys fetched in the clear over a network could be replaced on the way.
func fetchable(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() || u.Hostname() == "localhost" {
			return nil
		}
		return errors.New("http is accepted on the loopback interface only; use https")
	}
	return errors.New("not an http(s) URL")
}

// client is the HTTP client for key fetches: the CA file as its only roots when given, and the
// bearer token file when given.
func (c Config) client() (*http.Client, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if c.CAFile != "" {
		pemCerts, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("EVENT_AUTH_CA_FILE: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemCerts) {
			return nil, errors.New("EVENT_AUTH_CA_FILE: no PEM certificate in it")
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	var rt http.RoundTripper = transport
	if c.TokenFile != "" {
		if _, err := os.Stat(c.TokenFile); err != nil {
			return nil, fmt.Errorf("EVENT_AUTH_JWKS_TOKEN_FILE: %w", err)
		}
		rt = bearerFile{path: c.TokenFile, next: transport}
	}
	// Redirects are not followed: the key set is where configuration says, nowhere else.
	return &http.Client{Transport: rt, Timeout: keyFetchTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

// bearerFile adds the token in path to each request.
type bearerFile struct {
	path string
	next http.RoundTripper
}

func (b bearerFile) RoundTrip(r *http.Request) (*http.Response, error) {
	token, err := os.ReadFile(b.path)
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	return b.next.RoundTrip(r)
}

// readPublicKey reads a PKIX PEM public key of a type Algorithms can verify.
func readPublicKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("no PEM \"PUBLIC KEY\" block")
	}
	return x509.ParsePKIXPublicKey(block.Bytes)
}
