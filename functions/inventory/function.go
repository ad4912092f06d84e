// Package inventory is the inventory function of the order saga. It owns the stock: admins stock
// and price items over REST, ORDER_REQUESTED reserves an order's lines (all or none), ORDER_CANCELLED
// releases them and ORDER_COMPLETED sells them. For every item, available + reserved + sold is
// everything ever stocked.
package inventory

import (
	"context"
	"embed"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/inbox"
)

// Schema is the PostgreSQL schema the function owns; its tables are named unqualified.
const Schema = "inventory"

//go:embed migrations/*.sql
var migrations embed.FS

// Config is the function's configuration, read from the environment by New.
type Config struct {
	// DatabaseURL connects as the function's own role (DATABASE_URL).
	DatabaseURL string `envconfig:"DATABASE_URL" required:"true"`
	// Config finds the public key that verifies REST callers' tokens (AUTH_PUBLIC_KEY). It is
	// embedded so that envconfig reads its variable without a prefix.
	auth.Config
}

// Function is the inventory function. Its embedded Database makes it ready, closed and pruned
// by the runtime.
type Function struct {
	function.Database
	verifier *auth.Verifier
}

var _ interface {
	function.EventHandler
	function.RouteRegistrar
} = (*Function)(nil)

// New builds the function from the environment; it is what knative/func and cmd/inventory call.
func New(ctx context.Context) (*Function, error) { return function.FromEnv(ctx, Open) }

// Open builds the function from cfg: it checks the auth configuration before it connects, then
// connects to the inventory schema and migrates it.
func Open(ctx context.Context, cfg Config) (*Function, error) {
	verifier, err := cfg.Verifier() // promoted from the embedded auth.Config
	if err != nil {
		return nil, err
	}
	db, err := function.OpenDatabase(ctx, cfg.DatabaseURL, Schema, migrations)
	if err != nil {
		return nil, err
	}
	return &Function{Database: db, verifier: verifier}, nil
}

// Handle reacts to the three events inventory subscribes to. Errors: apperr Invalid, NotFound
// or Conflict and events.ErrInvalid for an event that can never succeed; others are transient.
func (f *Function) Handle(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	if err := events.CheckEmitter(e); err != nil {
		return nil, err // an event claiming another author than its type's: 400
	}
	switch events.Type(e.Type()) {
	case events.OrderRequested:
		return inbox.Handle(ctx, f.Pool, e, f.reserve)
	case events.OrderCancelled:
		return inbox.Handle(ctx, f.Pool, e, f.release)
	case events.OrderCompleted:
		return inbox.Handle(ctx, f.Pool, e, f.sell)
	}
	return nil, function.Rejectf("inventory does not handle %q events", e.Type())
}
