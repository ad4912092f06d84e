// Package shipping is the saga's last step: when an order is accepted (paid for) it records a
// shipment with a tracking id and answers ORDER_SHIPPED. Each order ships once, whatever the
// broker redelivers.
package shipping

import (
	"context"
	"embed"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/inbox"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// Schema is the PostgreSQL schema shipping owns; its role can touch nothing else.
const Schema = "shipping"

//go:embed migrations/*.sql
var migrations embed.FS

// Config is shipping's configuration, read from the environment by New.
type Config struct {
	DatabaseURL string `envconfig:"DATABASE_URL" required:"true"`
}

// Function is the shipping function. Its embedded Database makes it ready, closed and pruned
// by the runtime.
type Function struct {
	function.Database
}

var _ function.EventHandler = (*Function)(nil)

// New builds shipping from the environment (the knative/func entry point).
func New(ctx context.Context) (*Function, error) { return function.FromEnv(ctx, Open) }

// Open builds shipping from cfg: it connects to the shipping schema and migrates it.
func Open(ctx context.Context, cfg Config) (*Function, error) {
	db, err := function.OpenDatabase(ctx, cfg.DatabaseURL, Schema, migrations)
	if err != nil {
		return nil, err
	}
	return &Function{Database: db}, nil
}

// Handle ships for ORDER_ACCEPTED; shipping has no business with any other event.
func (f *Function) Handle(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	if err := events.CheckEmitter(e); err != nil {
		return nil, err // an event claiming another author than its type's: 400
	}
	switch events.Type(e.Type()) {
	case events.OrderAccepted:
		return inbox.Handle(ctx, f.Pool, e, f.ship)
	default:
		return nil, function.Rejectf("shipping does not handle %q events", e.Type())
	}
}

// ship records the order's shipment, exactly once per event (inbox) and per order (the
// shipments table's order_id key).
func (f *Function) ship(ctx context.Context, tx postgres.DBTX, e cloudevents.Event, p events.OrderAcceptedV1) (*cloudevents.Event, error) {
	tracking, err := store{db: tx}.Ship(ctx, p.OrderID)
	if err != nil {
		return nil, err
	}
	return events.Reply(e, events.SourceShipping, events.OrderShippedV1{OrderID: p.OrderID, TrackingID: tracking})
}
