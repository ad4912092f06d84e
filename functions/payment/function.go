// Package payment is the saga's payment step: when inventory has reserved an order's lines it
// charges the reserved total and answers TRANSACTION_COMPLETED or TRANSACTION_FAILED. The charge
// is simulated: it succeeds with probability PAYMENT_SUCCESS_RATE, decided once per order and
// then final on every retry and redelivery.
package payment

import (
	"context"
	"embed"
	"fmt"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/inbox"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// Schema is the PostgreSQL schema payment owns; its role can touch nothing else.
const Schema = "payment"

//go:embed migrations/*.sql
var migrations embed.FS

// Config is payment's configuration, read from the environment by New.
type Config struct {
	DatabaseURL string `envconfig:"DATABASE_URL" required:"true"`
	// SuccessRate is the probability (0..1) that a charge succeeds.
	SuccessRate float64 `envconfig:"PAYMENT_SUCCESS_RATE" default:"0.9"`
	// Seed, when set, makes the outcomes a reproducible sequence (tests, demos); unset, they are
	// random.
	Seed *int64 `envconfig:"PAYMENT_SEED"`
}

// validate checks the configuration, so a bad setting stops the start-up with a clear message
// instead of skewing every charge.
func (c Config) validate() error {
	if !(c.SuccessRate >= 0 && c.SuccessRate <= 1) { // also rejects NaN
		return fmt.Errorf("PAYMENT_SUCCESS_RATE must be between 0 and 1, got %v", c.SuccessRate)
	}
	return nil
}

// Function is the payment function. Its embedded Database makes it ready, closed and pruned by
// the runtime.
type Function struct {
	function.Database
	decide *decider
}

var _ function.EventHandler = (*Function)(nil)

// New builds payment from the environment (the knative/func entry point).
func New(ctx context.Context) (*Function, error) { return function.FromEnv(ctx, Open) }

// Open builds payment from cfg: it checks the configuration before touching the database, then
// connects to the payment schema and migrates it.
func Open(ctx context.Context, cfg Config) (*Function, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	db, err := function.OpenDatabase(ctx, cfg.DatabaseURL, Schema, migrations)
	if err != nil {
		return nil, err
	}
	return &Function{Database: db, decide: newDecider(cfg.SuccessRate, cfg.Seed)}, nil
}

// Handle charges for INVENTORY_RESERVED and voids for ORDER_CANCEL_REQUESTED; payment has no
// business with any other event.
func (f *Function) Handle(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	if err := events.CheckEmitter(e); err != nil {
		return nil, err // an event claiming another author than its type's: 400
	}
	switch events.Type(e.Type()) {
	case events.InventoryReserved:
		return inbox.Handle(ctx, f.Pool, e, f.charge)
	case events.OrderCancelRequested:
		return inbox.Handle(ctx, f.Pool, e, f.voidOnCancelRequest)
	default:
		return nil, function.Rejectf("payment does not handle %q events", e.Type())
	}
}

// charge charges the reserved total, exactly once per event (inbox) and per order (the
// transactions table's order_id key).
func (f *Function) charge(ctx context.Context, tx postgres.DBTX, e cloudevents.Event, p events.InventoryReservedV1) (*cloudevents.Event, error) {
	t, err := store{db: tx}.Charge(ctx, p.OrderID, p.TotalCents, f.decide.approve())
	if err != nil {
		return nil, err
	}
	return events.Reply(e, events.SourcePayment, t.payload())
}
