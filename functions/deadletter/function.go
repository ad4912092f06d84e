// Package deadletter is the dead-letter sink function. Knative delivers an event here when its
// subscriber answered 4xx (it can never succeed) or the Trigger's retries ran out, adding the
// extensions knativeerrorcode (the last HTTP status), knativeerrordata (the response body,
// base64) and knativeerrordest (the subscriber). Handle stores each one, once per event and
// subscriber; transient ones are redriven automatically once their subscriber is healthy again,
// for a bounded window, and admins list and replay them over REST (docs/CONTRACTS.md, "Delivery").
package deadletter

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/eventauth"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/telemetry"
)

// Schema is the PostgreSQL schema the function owns; its tables are named unqualified.
const Schema = "deadletter"

// PingType is the PingSource event that asks for one redrive pass; it is not a dead letter.
const PingType = "dev.knative.sources.ping"

//go:embed migrations/*.sql
var migrations embed.FS

// Config is the function's configuration, read from the environment by New.
type Config struct {
	// DatabaseURL connects as the function's own role (DATABASE_URL).
	DatabaseURL string `envconfig:"DATABASE_URL" required:"true"`
	// Sink is the broker's ingress, where the reply to a redelivered event goes (K_SINK, as
	// Knative sets it for a source).
	Sink string `envconfig:"K_SINK" required:"true"`
	// Config finds the public key that verifies admins' tokens (AUTH_PUBLIC_KEY or
	// AUTH_JWKS_URL); embedded so that envconfig reads its variables without a prefix.
	auth.Config
	Redrive RedriveConfig
	// DestinationHosts are the hosts dead letters may be redelivered to, as host names or
	// suffixes of them (DEADLETTER_DESTINATION_HOSTS, comma separated, e.g.
	// ordersaga.svc.cluster.local); empty allows any. knativeerrordest comes with the event, so
	// without it anyone who can post to the sink could make it post events anywhere.
	DestinationHosts []string `envconfig:"DEADLETTER_DESTINATION_HOSTS"`
	// Tokens are the function's sender tokens for redelivery and replies, by target URL prefix
	// (EVENT_AUTH_TOKEN_FILES, a JSON object; see eventauth.TokenFiles). Unset: redeliveries
	// carry no token, which receivers with sender authentication refuse.
	Tokens eventauth.TokenFiles `envconfig:"EVENT_AUTH_TOKEN_FILES"`
}

// RedriveConfig shapes the automatic redrive.
type RedriveConfig struct {
	// Initial is the wait before the first redrive of a dead letter, doubled after each failed
	// attempt up to MaxBackoff.
	Initial    time.Duration `envconfig:"DEADLETTER_REDRIVE_INITIAL" default:"5s"`
	MaxBackoff time.Duration `envconfig:"DEADLETTER_REDRIVE_MAX_BACKOFF" default:"1m"`
	// Window is how long after it was first seen a dead letter is redriven; past it, it is
	// failed_permanently and waits for a person.
	Window time.Duration `envconfig:"DEADLETTER_REDRIVE_WINDOW" default:"24h"`
	// Interval is how often a running instance makes a redrive pass.
	Interval time.Duration `envconfig:"DEADLETTER_REDRIVE_INTERVAL" default:"5s"`
	// Timeout bounds one redelivery, the reply's forwarding included.
	Timeout time.Duration `envconfig:"DEADLETTER_DELIVERY_TIMEOUT" default:"30s"`
	// Retention is how long a delivered dead letter is kept after it was last seen, for the
	// record; undelivered ones are kept until they are delivered.
	Retention time.Duration `envconfig:"DEADLETTER_RETENTION" default:"720h"`
}

// validate checks the configuration, so a bad setting stops the start-up with a clear message.
func (c Config) validate() error {
	u, err := url.Parse(c.Sink)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("K_SINK must be an absolute http(s) URL")
	}
	r := c.Redrive
	if r.Initial <= 0 || r.MaxBackoff < r.Initial || r.Window <= 0 || r.Interval <= 0 || r.Timeout <= 0 || r.Retention <= 0 {
		return errors.New("DEADLETTER_REDRIVE_*, DEADLETTER_DELIVERY_TIMEOUT, DEADLETTER_RETENTION: durations must be positive, DEADLETTER_REDRIVE_MAX_BACKOFF at least DEADLETTER_REDRIVE_INITIAL")
	}
	return nil
}

// Function is the dead-letter function. Its embedded Database makes it ready and closed by the
// runtime; its Maintain also runs the redrive.
type Function struct {
	function.Database
	verifier *auth.Verifier
	redrive  RedriveConfig
	courier  *courier
	// destinationHosts: see Config.DestinationHosts.
	destinationHosts []string
	// now is the clock of every stored time, so tests move time instead of sleeping.
	now func() time.Time
}

var _ interface {
	function.EventHandler
	function.RouteRegistrar
	function.Maintainer
} = (*Function)(nil)

// New builds the function from the environment; it is what knative/func and cmd/deadletter call.
func New(ctx context.Context) (*Function, error) { return function.FromEnv(ctx, Open) }

// Open builds the function from cfg: it checks the configuration before it connects, then
// connects to the deadletter schema and migrates it.
func Open(ctx context.Context, cfg Config) (*Function, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	verifier, err := cfg.Verifier()
	if err != nil {
		return nil, err
	}
	db, err := function.OpenDatabase(ctx, cfg.DatabaseURL, Schema, migrations)
	if err != nil {
		return nil, err
	}
	return &Function{
		Database: db, verifier: verifier, redrive: cfg.Redrive, destinationHosts: cfg.DestinationHosts,
		courier: newCourier(cfg.Sink, cfg.Redrive.Timeout, cfg.Tokens), now: time.Now,
	}, nil
}

// Handle stores a dead letter, whatever its type or payload (that may be why it is dead), and
// answers 202; a PingSource tick runs one redrive pass instead. Errors: the database's, which
// are transient (500), so the broker retries delivering it here.
func (f *Function) Handle(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	if e.Type() == PingType {
		_, err := f.RedrivePass(ctx)
		return nil, err
	}
	r, err := receive(e)
	if err != nil {
		return nil, err
	}
	now := f.now()
	st, next := Pending, ptr(now.Add(f.redrive.Initial))
	lastError := f.unredrivable(r.errorCode, r.destination)
	r.retryable = lastError == ""
	if !r.retryable {
		st, next = FailedPermanently, nil
	}
	d, err := store{db: f.Pool}.Record(ctx, r, st, next, lastError, now)
	if err != nil {
		return nil, err
	}
	telemetry.DeadLetterReceived(d.Type)
	slog.WarnContext(ctx, "dead letter",
		"dead_letter", d.ID, "type", d.Type, "id", d.EventID, "source", d.EventSource,
		"subject", d.OrderID, ExtErrorCode, d.ErrorCode, ExtErrorData, d.ErrorData,
		ExtErrorDest, d.Destination, "status", d.Status, "attempts", d.Attempts)
	return nil, nil
}

// unredrivable says why a dead letter that failed with code for destination is not redriven
// automatically, or is "" when it is.
func (f *Function) unredrivable(code int, destination string) string {
	if err := f.redeliverable(destination); err != nil {
		return err.Error()
	}
	if !Retryable(code) {
		return "the subscriber refused it (HTTP " + strconv.Itoa(code) + "): fix the cause, then replay it"
	}
	return ""
}

// redeliverable checks that destination is somewhere dead letters may be sent. Errors: why
// not (no destination, not an http(s) URL, a host not in DestinationHosts).
func (f *Function) redeliverable(destination string) error {
	if destination == "" {
		return errors.New("no " + ExtErrorDest + ": nowhere to redeliver it")
	}
	u, err := url.Parse(destination)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q is not an http(s) URL", ExtErrorDest, destination)
	}
	if len(f.destinationHosts) == 0 {
		return nil
	}
	host := u.Hostname()
	for _, allowed := range f.destinationHosts {
		allowed = strings.TrimPrefix(strings.TrimSpace(allowed), ".")
		if host == allowed || strings.HasSuffix(host, "."+allowed) {
			return nil
		}
	}
	return fmt.Errorf("%s host %q is not in DEADLETTER_DESTINATION_HOSTS", ExtErrorDest, host)
}

func ptr[T any](v T) *T { return &v }
