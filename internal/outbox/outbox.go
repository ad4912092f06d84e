// Package outbox is the transactional outbox: an event that starts from an HTTP request is
// stored in the same transaction as the change that caused it, so neither can happen without the
// other. It is published after commit; a sweep republishes whatever a crash or an outage left
// unpublished. Publication is at least once; consumers deduplicate by event id (see inbox).
package outbox

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga/internal/postgres"
	"github.com/ordersaga/ordersaga/internal/telemetry"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates the outbox table in the pool's schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return postgres.Migrate(ctx, pool, "outbox_migrations", migrations)
}

// Add stores e in the outbox as part of tx: with its COMMIT when tx is pipelined
// (postgres.ExecAtCommit), so the outbox costs no round trip of its own.
func Add(ctx context.Context, tx postgres.DBTX, e cloudevents.Event) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	return postgres.ExecAtCommit(ctx, tx, "add to outbox", `INSERT INTO outbox (id, event) VALUES ($1, $2)`, e.ID(), raw)
}

// Requeue stores e in the outbox as part of tx to be published once more, with its id unchanged:
// a row already there (published, or still waiting) is marked unpublished again, so the sweep
// sends it if Publish after commit does not. Receivers' inboxes then answer with their stored
// replies, which is what the order function's deadlines rely on. A quarantined row stays
// quarantined. Errors are the database's.
func Requeue(ctx context.Context, tx postgres.DBTX, e cloudevents.Event) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (id, event) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET published_at = NULL, created_at = now()`, e.ID(), raw); err != nil {
		return fmt.Errorf("requeue in outbox: %w", err)
	}
	return nil
}

// Publisher is where outbox events go: Kafka in production (kafka.Producer).
type Publisher interface {
	Publish(ctx context.Context, es ...cloudevents.Event) error
}

// Relay moves committed outbox events to the publisher.
type Relay struct {
	pool      *pgxpool.Pool
	publisher Publisher
	// MinAge keeps the sweep off rows whose request is still publishing them itself (and whose
	// "published" mark may still be queued, see Publish).
	MinAge time.Duration
	// Retention is how long published rows are kept, for inspection, before the sweep deletes them.
	Retention time.Duration

	marks   chan string   // ids published by Publish, to be marked in the outbox
	quit    chan struct{} // closed by Close
	stopped chan struct{} // closed once the last marks are written
}

// NewRelay returns a Relay from pool's outbox to publisher. Close it to write its last marks.
func NewRelay(pool *pgxpool.Pool, publisher Publisher) *Relay {
	r := &Relay{pool: pool, publisher: publisher, MinAge: 2 * time.Second, Retention: time.Hour,
		marks: make(chan string, 4096), quit: make(chan struct{}), stopped: make(chan struct{})}
	go r.markPublished()
	return r
}

// Publish publishes e, which was committed to the outbox. On error the row stays unpublished for
// the sweep; the caller's request has succeeded regardless. The row is marked published in the
// background, many rows per statement: one commit fewer per order on the request path. A mark
// that is lost (a crash) only makes the sweep publish the event again, which consumers drop as
// a duplicate.
func (r *Relay) Publish(ctx context.Context, e cloudevents.Event) error {
	started := time.Now() // the row was committed just before
	if err := r.publisher.Publish(ctx, e); err != nil {
		telemetry.OutboxPublishFailed(telemetry.OutboxAfterCommit)
		return err
	}
	telemetry.OutboxPublished(telemetry.OutboxAfterCommit, started)
	select {
	case r.marks <- e.ID():
	default: // the marker is behind: the sweep will see the row as unpublished and send it again
	}
	return nil
}

// markBatch bounds one "published" update; markEvery is how long a mark may wait for others.
const (
	markBatch = 500
	markEvery = 20 * time.Millisecond
)

func (r *Relay) markPublished() {
	defer close(r.stopped)
	var ids []string
	flush := func() {
		if len(ids) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := r.pool.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1)`, ids); err != nil {
			slog.Warn("outbox: marking published events failed; the sweep will publish them again", "count", len(ids), "err", err)
		}
		ids = ids[:0]
	}
	for {
		select { // idle until something is published: no timer runs while idle
		case id := <-r.marks:
			ids = append(ids, id)
		case <-r.quit:
			r.drain(&ids)
			flush()
			return
		}
		wait := time.After(markEvery)
	collect:
		for len(ids) < markBatch {
			select {
			case id := <-r.marks:
				ids = append(ids, id)
			case <-wait:
				break collect
			case <-r.quit:
				r.drain(&ids)
				flush()
				return
			}
		}
		flush()
	}
}

// drain takes the marks still queued.
func (r *Relay) drain(ids *[]string) {
	for {
		select {
		case id := <-r.marks:
			*ids = append(*ids, id)
		default:
			return
		}
	}
}

// Close writes the marks still queued. A Publish after Close still publishes; its mark is left to
// the sweep (the marks channel is never closed, so a late request cannot panic on it).
func (r *Relay) Close() {
	close(r.quit)
	<-r.stopped
}

// sweepBatch bounds one sweep transaction.
const sweepBatch = 500

// Sweep publishes every unpublished row older than MinAge, oldest first, and deletes published
// rows older than Retention. Rows are claimed with SKIP LOCKED, so concurrent sweeps (replicas,
// a timer and a PingSource) share the work instead of publishing twice. A row that can never be
// published is quarantined (see quarantine) and skipped by later sweeps. It returns how many
// events it published; its error is the publisher's or the database's, when nothing could be
// published (an outage: every row stays for the next sweep).
func (r *Relay) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		published, claimed, err := r.sweepOnce(ctx)
		total += published
		if err != nil || claimed < sweepBatch {
			if err == nil {
				_, err = r.pool.Exec(ctx, `DELETE FROM outbox WHERE published_at < now() - $1 * interval '1 millisecond'`, r.Retention.Milliseconds())
			}
			return total, err
		}
	}
}

// sweepTimeout bounds one sweep transaction, so a broker outage does not hold row locks open.
const sweepTimeout = 10 * time.Second

// storedEvent is one unpublished outbox row.
type storedEvent struct {
	ID        string    `db:"id"`
	Event     []byte    `db:"event"`
	CreatedAt time.Time `db:"created_at"`
}

// sweepOnce claims up to sweepBatch rows and publishes them. It returns how many it published
// and how many it claimed (published, quarantined or left for the next sweep).
func (r *Relay) sweepOnce(ctx context.Context) (published, claimed int, err error) {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	var publishErr error
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id, event, created_at FROM outbox
			WHERE published_at IS NULL AND quarantined_at IS NULL
			  AND created_at < now() - $1 * interval '1 millisecond'
			ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED`, r.MinAge.Milliseconds(), sweepBatch)
		stored, err := pgx.CollectRows(rows, pgx.RowToStructByName[storedEvent])
		if err != nil {
			return err
		}
		claimed = len(stored)
		batch := make([]cloudevents.Event, 0, len(stored))
		storedAt := make(map[string]time.Time, len(stored))
		for _, row := range stored {
			storedAt[row.ID] = row.CreatedAt
			var e cloudevents.Event
			if err := json.Unmarshal(row.Event, &e); err != nil {
				if err := quarantine(ctx, tx, row.ID, fmt.Errorf("decode: %w", err)); err != nil {
					return err
				}
				continue
			}
			batch = append(batch, e)
		}
		var sent []string
		sent, publishErr = r.publish(ctx, tx, batch)
		published = len(sent)
		for _, id := range sent {
			telemetry.OutboxPublished(telemetry.OutboxSweep, storedAt[id])
		}
		if publishErr != nil {
			telemetry.OutboxPublishFailed(telemetry.OutboxSweep)
		}
		if len(sent) == 0 {
			return nil // keep the quarantines; the rows left wait for the next sweep
		}
		_, err = tx.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1)`, sent)
		return err
	})
	if err == nil {
		err = publishErr
	}
	return published, claimed, err
}

// publish sends batch and returns the ids it sent. When the batch as a whole fails, it tries
// each event on its own: if the broker takes some, the ones it refuses are at fault and are
// quarantined; if it takes none, that is an outage, and the error is returned with every row
// left for the next sweep.
func (r *Relay) publish(ctx context.Context, tx pgx.Tx, batch []cloudevents.Event) ([]string, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	ids := make([]string, len(batch))
	for i, e := range batch {
		ids[i] = e.ID()
	}
	batchErr := r.publisher.Publish(ctx, batch...)
	if batchErr == nil {
		return ids, nil
	}
	if ctx.Err() != nil { // the sweep's time is up: nothing more can be sent now
		return nil, batchErr
	}
	var sent []string
	refused := map[string]error{}
	for _, e := range batch {
		if err := r.publisher.Publish(ctx, e); err != nil {
			refused[e.ID()] = err
			continue
		}
		sent = append(sent, e.ID())
	}
	if len(sent) == 0 {
		return nil, batchErr
	}
	for id, err := range refused {
		if err := quarantine(ctx, tx, id, fmt.Errorf("publish: %w", err)); err != nil {
			return nil, err
		}
	}
	return sent, nil
}

// quarantine marks the row id so that no sweep takes it again, and logs why: one poisoned row
// must not hold back the rows after it. Errors: the database's.
func quarantine(ctx context.Context, tx pgx.Tx, id string, reason error) error {
	slog.ErrorContext(ctx, "outbox: event quarantined; it will not be published", "id", id, "err", reason)
	_, err := tx.Exec(ctx, `UPDATE outbox SET quarantined_at = now(), quarantine_reason = $2 WHERE id = $1`, id, reason.Error())
	return err
}
