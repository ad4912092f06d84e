// Package user is the user function: sign-up, login and the access tokens every other function
// verifies. It alone holds the token signing key (Ed25519); it publishes the public half at
// /.well-known/jwks.json. It takes part in no saga step, so it accepts no events.
package user

import (
	"context"
	"crypto/ed25519"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// Schema is the PostgreSQL schema the function owns.
const Schema = "users"

//go:embed migrations/*.sql
var migrations embed.FS

// Config is the function's configuration, read from the environment by New.
type Config struct {
	DatabaseURL string `envconfig:"DATABASE_URL" required:"true"`
	// AdminEmails get the admin role (comma separated, compared case-insensitively).
	AdminEmails []string `envconfig:"ADMIN_EMAILS"`
	// BootstrapAdminEmail and BootstrapAdminPassword, when set, name an admin account created at
	// startup if it does not exist yet. An existing account is left as it is (its password too).
	BootstrapAdminEmail    string `envconfig:"BOOTSTRAP_ADMIN_EMAIL"`
	BootstrapAdminPassword string `envconfig:"BOOTSTRAP_ADMIN_PASSWORD"`
	// PrivateKey (PKCS #8 PEM) or PrivateKeyFile holds the Ed25519 token signing key.
	PrivateKey     string `envconfig:"AUTH_PRIVATE_KEY"`
	PrivateKeyFile string `envconfig:"AUTH_PRIVATE_KEY_FILE"`
	// DevKeyFile is where a development key is generated and kept when no key is configured
	// (the local stack); never set it in production.
	DevKeyFile string `envconfig:"AUTH_DEV_KEY_FILE"`
	// TokenTTL is the access token's lifetime (and the cookie's Max-Age).
	TokenTTL time.Duration `envconfig:"TOKEN_TTL" default:"15m"`
	// CookieInsecure drops the cookie's Secure attribute, for plain-HTTP local use only.
	CookieInsecure bool `envconfig:"COOKIE_INSECURE"`
	// AttemptsPerClient and AttemptsPerAccount limit /signup and /login together: attempts a
	// minute (and at once) per client address and per account email; more get 429 with
	// Retry-After (ratelimit.go). 0 means the default (60 and 10).
	AttemptsPerClient  int `envconfig:"AUTH_ATTEMPTS_PER_CLIENT"`
	AttemptsPerAccount int `envconfig:"AUTH_ATTEMPTS_PER_ACCOUNT"`

	hashParams *argon2Params // tests use cheap parameters; nil means defaultArgon2
}

// Function is the user function.
type Function struct {
	function.Database
	hasher   *hasher
	limits   *attemptLimits
	signer   *auth.Signer
	verifier *auth.Verifier
	jwks     auth.JWKSet
	admins   map[string]bool // canonical emails
	secure   bool            // the cookie's Secure attribute
	now      func() time.Time
}

var _ function.RouteRegistrar = (*Function)(nil)

// New builds the function from the environment.
func New(ctx context.Context) (*Function, error) { return function.FromEnv(ctx, Open) }

// Open builds the function from cfg: it loads the signing key, migrates the schema and creates
// the bootstrap admin if configured. Every error is a reason not to start.
func Open(ctx context.Context, cfg Config) (*Function, error) {
	if cfg.TokenTTL <= 0 || cfg.TokenTTL > 24*time.Hour {
		return nil, errors.New("TOKEN_TTL must be positive and at most 24h")
	}
	limits, err := limitsFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	admins := map[string]bool{}
	for _, e := range cfg.AdminEmails {
		if e == "" {
			continue
		}
		email, ok := canonicalEmail(e)
		if !ok {
			return nil, fmt.Errorf("ADMIN_EMAILS: %q is not an email address", e)
		}
		admins[email] = true
	}
	var bootstrap string
	if cfg.BootstrapAdminEmail != "" || cfg.BootstrapAdminPassword != "" {
		var err error
		if bootstrap, err = validateSignup(credentials{Email: cfg.BootstrapAdminEmail, Password: cfg.BootstrapAdminPassword}); err != nil {
			return nil, fmt.Errorf("BOOTSTRAP_ADMIN_EMAIL/BOOTSTRAP_ADMIN_PASSWORD (both required together): %w", err)
		}
		admins[bootstrap] = true
	}
	priv, err := signingKey(cfg)
	if err != nil {
		return nil, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	params := defaultArgon2
	if cfg.hashParams != nil {
		params = *cfg.hashParams
	}
	db, err := function.OpenDatabase(ctx, cfg.DatabaseURL, Schema, migrations)
	if err != nil {
		return nil, err
	}
	f := &Function{
		Database: db,
		hasher:   newHasher(params),
		limits:   limits,
		signer:   auth.NewSigner(priv, auth.KeyID(pub), cfg.TokenTTL),
		verifier: auth.NewVerifier(auth.StaticKey(pub)),
		jwks:     auth.JWKSet{Keys: []auth.JWK{auth.PublicJWK(pub)}},
		admins:   admins,
		secure:   !cfg.CookieInsecure,
		now:      time.Now,
	}
	if bootstrap != "" {
		if err := f.ensureAdmin(ctx, bootstrap, cfg.BootstrapAdminPassword); err != nil {
			db.Close()
			return nil, err
		}
	}
	return f, nil
}

// ensureAdmin creates the bootstrap admin unless the account exists. The existence check first
// spares a restart the cost of a hash; the insert's ON CONFLICT makes racing replicas safe.
func (f *Function) ensureAdmin(ctx context.Context, email, password string) error {
	exists, err := store{db: f.Pool}.UserExists(ctx, email)
	if err != nil || exists {
		return err
	}
	hash, err := f.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	created, err := store{db: f.Pool}.EnsureUser(ctx, email, hash)
	if created {
		slog.InfoContext(ctx, "created the bootstrap admin", "email", email)
	}
	return err
}

// Role returns the role of the account with the canonical email, from the configuration.
func (f *Function) Role(email string) auth.Role {
	if f.admins[email] {
		return auth.RoleAdmin
	}
	return auth.RoleUser
}

// Routes adds the REST endpoints of docs/CONTRACTS.md ("REST").
func (f *Function) Routes(mux *http.ServeMux) {
	mux.Handle("POST /signup", httpapi.HandlerFunc(f.signup))
	mux.Handle("POST /login", httpapi.HandlerFunc(f.login))
	mux.Handle("POST /logout", httpapi.HandlerFunc(f.logout))
	mux.Handle("GET /me", httpapi.HandlerFunc(f.me))
	mux.Handle("GET /.well-known/jwks.json", httpapi.HandlerFunc(f.keys))
}
