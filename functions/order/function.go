// Package order is the order function: the REST API that takes orders and the saga's state
// machine. It owns the order's state: it starts the saga with ORDER_REQUESTED (through the
// transactional outbox) and answers inventory's, payment's and shipping's events with the next
// step: ORDER_ACCEPTED, ORDER_CANCELLED or ORDER_COMPLETED.
package order

import (
	"context"
	"embed"
	"log/slog"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/kafka"
	"github.com/ordersaga/ordersaga/internal/outbox"
)

// Schema is the PostgreSQL schema the order function owns.
const Schema = "orders"

//go:embed migrations/*.sql
var migrations embed.FS

// Config is the order function's configuration, from the environment.
type Config struct {
	DatabaseURL string `envconfig:"DATABASE_URL" required:"true"`
	// KafkaBrokers and KafkaTopic are where ORDER_REQUESTED is published.
	KafkaBrokers string `envconfig:"KAFKA_BROKERS" required:"true"`
	KafkaTopic   string `envconfig:"KAFKA_TOPIC" default:"orders.events"`
	// SweepInterval is how often a running instance republishes what the outbox holds
	// unpublished; 0 leaves it to the PingSource alone.
	SweepInterval time.Duration `envconfig:"OUTBOX_SWEEP_INTERVAL" default:"10s"`
	Auth          auth.Config
}

// Function is the order function.
type Function struct {
	function.Database // Ready and Maintain; Close is the order function's own
	store             *Store
	relay             *outbox.Relay
	producer          *kafka.Producer
	verifier          *auth.Verifier
	stop              context.CancelFunc
}

// New builds the function from the environment.
func New(ctx context.Context) (*Function, error) { return function.FromEnv(ctx, Open) }

// Open builds the function from cfg: it migrates its schema and connects to Kafka.
func Open(ctx context.Context, cfg Config) (*Function, error) {
	verifier, err := cfg.Auth.Verifier()
	if err != nil {
		return nil, err
	}
	db, err := function.OpenDatabase(ctx, cfg.DatabaseURL, Schema, migrations)
	if err != nil {
		return nil, err
	}
	if err := outbox.Migrate(ctx, db.Pool); err != nil {
		db.Close()
		return nil, err
	}
	producer, err := kafka.NewProducer(cfg.KafkaBrokers, cfg.KafkaTopic)
	if err != nil {
		db.Close()
		return nil, err
	}
	f := &Function{
		Database: db,
		store:    &Store{db: db.Pool},
		relay:    outbox.NewRelay(db.Pool, producer),
		producer: producer,
		verifier: verifier,
	}
	sweepCtx, stop := context.WithCancel(context.Background())
	f.stop = stop
	if cfg.SweepInterval > 0 {
		go f.relay.Run(sweepCtx, cfg.SweepInterval, func(err error) {
			slog.Error("outbox sweep", "err", err)
		})
	}
	return f, nil
}

// PingType is the type of the PingSource's events: each one sweeps the outbox.
const PingType = "dev.knative.sources.ping"

// Handle reacts to the events that move an order along (see handlers.go) and to the PingSource's
// outbox sweep.
func (f *Function) Handle(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	if e.Type() == PingType {
		n, err := f.relay.Sweep(ctx)
		if n > 0 {
			slog.InfoContext(ctx, "outbox sweep republished events", "count", n)
		}
		return nil, err
	}
	return f.handle(ctx, e)
}

// Routes adds the REST API.
func (f *Function) Routes(mux *http.ServeMux) {
	(&api{store: f.store, relay: f.relay, verifier: f.verifier}).routes(mux)
}

// Close stops the sweeper and releases the database pool and the Kafka client.
func (f *Function) Close() {
	f.stop()
	f.relay.Close()
	f.producer.Close()
	f.Database.Close()
}

var _ interface {
	function.EventHandler
	function.RouteRegistrar
} = (*Function)(nil)

// source is the CloudEvents source of everything the order function emits.
const source = events.SourceOrder
