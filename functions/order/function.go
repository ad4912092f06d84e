// Package order is the order function: the REST API that takes orders and the saga's state
// machine. It owns the order's state: it starts the saga with ORDER_REQUESTED (through the
// transactional outbox) and answers inventory's, payment's and shipping's events with the next
// step: ORDER_ACCEPTED, ORDER_CANCELLED or ORDER_COMPLETED.
package order

import (
	"context"
	"embed"
	"errors"
	"fmt"
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
	// Kafka (KAFKA_BROKERS and KAFKA_SASL_*, KAFKA_TLS*) and KafkaTopic are where, and as whom,
	// ORDER_REQUESTED is published.
	Kafka      kafka.Config `envconfig:"KAFKA"`
	KafkaTopic string       `envconfig:"KAFKA_TOPIC" default:"orders.events"`
	// SweepInterval is how often a running instance republishes what the outbox holds
	// unpublished; 0 leaves it to the PingSource alone.
	SweepInterval time.Duration `envconfig:"OUTBOX_SWEEP_INTERVAL" default:"10s"`
	// The saga deadlines (Schedule; zero means the default): how long a step may take before its
	// event is republished, the cap of the back-off between republications, and how long after
	// creation a REQUESTED order is asked to be cancelled (reason "timeout").
	StepTimeout  time.Duration `envconfig:"ORDER_STEP_TIMEOUT" default:"1m"`
	MaxBackoff   time.Duration `envconfig:"ORDER_STEP_MAX_BACKOFF" default:"5m"`
	FinalTimeout time.Duration `envconfig:"ORDER_FINAL_TIMEOUT" default:"10m"`
	// Now is the clock deadlines are set and checked by; nil is time.Now. Tests move it on
	// instead of sleeping.
	Now  func() time.Time `ignored:"true"`
	Auth auth.Config
}

// schedule is the deadline configuration, defaults filled in. Errors: a back-off cap shorter
// than the step timeout, or a negative duration.
func (c Config) schedule() (Schedule, error) {
	if c.StepTimeout < 0 || c.MaxBackoff < 0 || c.FinalTimeout < 0 {
		return Schedule{}, fmt.Errorf("ORDER_STEP_TIMEOUT, ORDER_STEP_MAX_BACKOFF and ORDER_FINAL_TIMEOUT must not be negative")
	}
	s := Schedule{StepTimeout: c.StepTimeout, MaxBackoff: c.MaxBackoff, FinalTimeout: c.FinalTimeout}.withDefaults()
	if s.MaxBackoff < s.StepTimeout {
		return Schedule{}, fmt.Errorf("ORDER_STEP_MAX_BACKOFF (%s) must not be shorter than ORDER_STEP_TIMEOUT (%s)", s.MaxBackoff, s.StepTimeout)
	}
	return s, nil
}

// Function is the order function.
type Function struct {
	function.Database // Ready and Maintain; Close is the order function's own
	store             *Store
	relay             *outbox.Relay
	producer          *kafka.Producer
	verifier          *auth.Verifier
	schedule          Schedule
	now               func() time.Time
	stop              context.CancelFunc
}

// New builds the function from the environment.
func New(ctx context.Context) (*Function, error) { return function.FromEnv(ctx, Open) }

// Open builds the function from cfg: it migrates its schema and connects to Kafka.
func Open(ctx context.Context, cfg Config) (*Function, error) {
	schedule, err := cfg.schedule()
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
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
	producer, err := kafka.NewProducer(cfg.Kafka, cfg.KafkaTopic)
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
		schedule: schedule,
		now:      now,
	}
	tickCtx, stop := context.WithCancel(context.Background())
	f.stop = stop
	if cfg.SweepInterval > 0 {
		go f.runTicks(tickCtx, cfg.SweepInterval)
	}
	return f, nil
}

// PingType is the type of the PingSource's events: each one is a tick (sweep and deadlines).
const PingType = "dev.knative.sources.ping"

// Handle reacts to the events that move an order along (see handlers.go) and to the PingSource's
// tick.
func (f *Function) Handle(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	if e.Type() == PingType {
		return nil, f.tick(ctx)
	}
	if err := events.CheckEmitter(e); err != nil {
		return nil, err
	}
	return f.handle(ctx, e)
}

// tick is the order function's periodic work, from the PingSource on a cluster and from
// runTicks while an instance is up: republish what the outbox holds unpublished, then drive the
// overdue orders on (Deadlines). Both claim their rows with SKIP LOCKED, so replicas, the timer
// and the PingSource share the work. Errors: the sweep's and the pass's, joined; one failing does
// not keep the other from running.
func (f *Function) tick(ctx context.Context) error {
	n, sweepErr := f.relay.Sweep(ctx)
	if n > 0 {
		slog.InfoContext(ctx, "outbox sweep republished events", "count", n)
	}
	due, deadlineErr := f.Deadlines(ctx)
	if due > 0 {
		slog.InfoContext(ctx, "deadlines: overdue orders driven on", "count", due)
	}
	return errors.Join(sweepErr, deadlineErr)
}

// runTicks ticks every interval until ctx ends: the timer for deployments without a PingSource
// (the local stack) and a backstop while an instance is up.
func (f *Function) runTicks(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f.tick(ctx); err != nil && ctx.Err() == nil {
				slog.Error("order tick", "err", err)
			}
		}
	}
}

// Routes adds the REST API.
func (f *Function) Routes(mux *http.ServeMux) {
	(&api{store: f.store, relay: f.relay, verifier: f.verifier, schedule: f.schedule, now: f.now}).routes(mux)
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
