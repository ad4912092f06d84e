// Package inbox makes event handlers idempotent. Kafka and Knative deliver at least once, so each
// function records every event it handles, keyed by the event's (source, id), in the same
// transaction as the event's effect, together with the reply it produced. A redelivery does
// nothing and gets the stored reply, with the same event id, so that downstream deduplicates too.
package inbox

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/postgres"
	"github.com/ordersaga/ordersaga/internal/telemetry"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates the inbox table in the pool's schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return postgres.Migrate(ctx, pool, "inbox_migrations", migrations)
}

// HandleFunc applies an event's effect inside tx and returns the reply (nil for none). An error
// rolls the whole transaction back, inbox row included, so a retried delivery starts afresh.
type HandleFunc func(ctx context.Context, tx postgres.DBTX) (*cloudevents.Event, error)

// Process handles e exactly once: in one transaction it claims e's (source, id), runs handle and
// stores its reply. When e was handled before, it returns the stored reply, and nothing handle
// did is kept. A concurrent duplicate waits on the first delivery's row lock and then sees it as
// handled. The claim travels with the transaction's BEGIN and handle's first statement, the reply
// with its COMMIT (postgres.InPipelinedTx), so the inbox adds no round trip to the effect's own,
// and the effect's first read or write costs none either. So a duplicate's handle runs as far as
// its first statement, whose call then fails and whose work is rolled back: handle must do
// nothing outside the transaction before it. Errors are handle's, or the database's (transient:
// the caller answers 5xx).
func Process(ctx context.Context, pool *pgxpool.Pool, e cloudevents.Event, handle HandleFunc) (*cloudevents.Event, error) {
	var reply *cloudevents.Event
	claim := postgres.Statement{SQL: `INSERT INTO inbox (source, id, type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		Args: []any{e.Source(), e.ID(), e.Type()}}
	err := postgres.InPipelinedTx(ctx, pool, claim, claimedNow, func(tx postgres.DBTX) ([]postgres.Statement, error) {
		var err error
		if reply, err = handle(ctx, tx); err != nil || reply == nil {
			return nil, err
		}
		raw, err := json.Marshal(reply)
		if err != nil {
			return nil, fmt.Errorf("encode reply: %w", err)
		}
		return []postgres.Statement{{SQL: `UPDATE inbox SET reply = $3 WHERE source = $1 AND id = $2`,
			Args: []any{e.Source(), e.ID(), raw}, What: "store the reply"}}, nil
	})
	if errors.Is(err, errHandledBefore) {
		telemetry.DuplicateCaught(ctx, e.Type())
		return storedReply(ctx, pool, e)
	}
	if postgres.IsDataException(err) {
		// Input PostgreSQL cannot store (bad encoding, out of range) fails the same way on every
		// retry: refuse it rather than have it retried forever.
		return nil, fmt.Errorf("%w: %v", events.ErrInvalid, err)
	}
	if err != nil {
		return nil, err
	}
	return reply, nil
}

// errHandledBefore ends the transaction of an event whose claim found it handled already.
var errHandledBefore = errors.New("inbox: event handled before")

// claimedNow is Process's check of the claim: an event claimed before is not handled again. The
// first delivery has committed by then (the claim waited for its row lock), so its reply is there
// to read.
func claimedNow(claim pgconn.CommandTag) error {
	if claim.RowsAffected() == 0 {
		return errHandledBefore
	}
	return nil
}

func storedReply(ctx context.Context, tx postgres.DBTX, e cloudevents.Event) (*cloudevents.Event, error) {
	var raw []byte
	if err := tx.QueryRow(ctx, `SELECT reply FROM inbox WHERE source = $1 AND id = $2`, e.Source(), e.ID()).Scan(&raw); err != nil {
		return nil, fmt.Errorf("read stored reply: %w", err)
	}
	if raw == nil {
		return nil, nil
	}
	var reply cloudevents.Event
	if err := json.Unmarshal(raw, &reply); err != nil {
		return nil, fmt.Errorf("decode stored reply: %w", err)
	}
	return &reply, nil
}

// ApplyFunc applies a decoded event's effect inside tx, like HandleFunc; e is the event itself,
// the cause that replies are built from (events.Reply).
type ApplyFunc[P events.Payload] func(ctx context.Context, tx postgres.DBTX, e cloudevents.Event, p P) (*cloudevents.Event, error)

// Handle decodes e strictly as payload P before any database work, so a malformed event costs
// nothing and leaves no trace (the error wraps events.ErrInvalid), then applies it exactly once
// with Process.
func Handle[P events.Payload](ctx context.Context, pool *pgxpool.Pool, e cloudevents.Event, apply ApplyFunc[P]) (*cloudevents.Event, error) {
	p, err := events.Decode[P](e)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(events.ValidText("id", e.ID()), events.ValidText("source", e.Source())); err != nil {
		return nil, fmt.Errorf("%w: %v", events.ErrInvalid, err)
	}
	return Process(ctx, pool, e, func(ctx context.Context, tx postgres.DBTX) (*cloudevents.Event, error) {
		return apply(ctx, tx, e, p)
	})
}

// Prune deletes the records of events handled more than olderThan ago, in batches, and returns
// how many it deleted. Keep olderThan above the longest time an event can be redelivered (the
// broker topic's retention): a redelivery older than that would be handled again. Each function's
// own keys (one reservation, charge or shipment per order; the order state machine) make even
// that harmless, but the inbox is the first line.
func Prune(ctx context.Context, pool *pgxpool.Pool, olderThan time.Duration) (int64, error) {
	var total int64
	for {
		tag, err := pool.Exec(ctx, `DELETE FROM inbox WHERE ctid IN (
			SELECT ctid FROM inbox WHERE handled_at < now() - $1 * interval '1 millisecond' LIMIT 5000)`,
			olderThan.Milliseconds())
		if err != nil {
			return total, fmt.Errorf("prune inbox: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			return total, nil
		}
	}
}

// Retention is how long handled events are remembered: longer than the broker topic can keep
// them. Kafka deletes whole segments, so a record can outlive the topic's retention (7 days by
// default) by up to a segment's age (segment.ms, also 7 days by default).
const Retention = 15 * 24 * time.Hour

// pruneFirstAfter is when an instance first prunes: soon, since an instance that scales to zero
// may not live until the first interval has passed.
const pruneFirstAfter = 30 * time.Second

// PruneEvery prunes soon after it starts and then every interval until ctx ends, logging failures.
func PruneEvery(ctx context.Context, pool *pgxpool.Pool, interval, olderThan time.Duration) {
	t := time.NewTimer(pruneFirstAfter)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Reset(interval)
			if n, err := Prune(ctx, pool, olderThan); err != nil && ctx.Err() == nil {
				slog.Warn("inbox prune", "err", err)
			} else if n > 0 {
				slog.Info("inbox pruned", "rows", n)
			}
		}
	}
}
