package deadletter

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// columns are the stored fields of a DeadLetter, in every query that returns one (the table
// also has dedup_key, which no struct maps).
const columns = `id, event_source, event_id, destination, type, order_id, event, error_code,
	error_data, status, retryable, attempts, replays, first_seen, last_seen, next_attempt_at, last_error`

// store is the dead letters' table over a pool or a transaction.
type store struct {
	db postgres.DBTX
}

// Filter selects dead letters; empty fields match everything.
type Filter struct {
	Status      Status `json:"status"`
	Type        string `json:"type"`
	OrderID     string `json:"order"`
	Destination string `json:"destination"`
}

// Validate checks the status. Errors: apperr Invalid.
func (f Filter) Validate() error {
	if f.Status != "" && !statuses[f.Status] {
		return apperr.Errorf(apperr.Invalid, "status must be one of pending, redriving, delivered, failed_permanently")
	}
	return nil
}

// Record stores r as first seen at now, or, when this event already failed for this
// destination, counts one more attempt and takes r's error and classification: the latest
// failure decides whether the redrive may retry it. A delivered one is so reopened, which is
// safe to redeliver (the subscriber's inbox). The event bytes stay those first stored. Errors:
// the database's.
func (s store) Record(ctx context.Context, r received, st Status, nextAttempt *time.Time, lastError string, now time.Time) (DeadLetter, error) {
	return postgres.QueryOne[DeadLetter](ctx, s.db, nil, `
		INSERT INTO dead_letters (id, dedup_key, event_source, event_id, destination, type, order_id,
			event, error_code, error_data, status, retryable, attempts, first_seen, last_seen,
			next_attempt_at, last_error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13, $14, $15)
		ON CONFLICT (dedup_key) DO UPDATE SET
			attempts = dead_letters.attempts + 1, last_seen = EXCLUDED.last_seen,
			error_code = EXCLUDED.error_code, error_data = EXCLUDED.error_data,
			retryable = EXCLUDED.retryable, status = EXCLUDED.status,
			next_attempt_at = EXCLUDED.next_attempt_at, last_error = EXCLUDED.last_error
		RETURNING `+columns,
		uuid.New(), r.key, r.source, r.id, r.destination, r.eventType, r.orderID, r.event,
		r.errorCode, r.errorData, st, r.retryable, now, nextAttempt, lastError)
}

// Get returns the dead letter id. Errors: apperr NotFound, or the database's.
func (s store) Get(ctx context.Context, id uuid.UUID) (DeadLetter, error) {
	return postgres.QueryOne[DeadLetter](ctx, s.db, apperr.Errorf(apperr.NotFound, "dead letter not found"),
		`SELECT `+columns+` FROM dead_letters WHERE id = $1`, id)
}

// List returns up to limit dead letters matching f, most recently seen first. Errors: the
// database's.
func (s store) List(ctx context.Context, f Filter, limit int) ([]DeadLetter, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if f.Type != "" {
		add("type = $%d", f.Type)
	}
	if f.OrderID != "" {
		add("order_id = $%d", f.OrderID)
	}
	if f.Destination != "" {
		add("destination = $%d", f.Destination)
	}
	q := `SELECT ` + columns + ` FROM dead_letters`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY last_seen DESC, id LIMIT $%d`, len(args))
	return postgres.QueryAll[DeadLetter](ctx, s.db, q, args...)
}

// ClaimDue marks up to limit retryable dead letters whose next attempt is due at now as
// redriving until leaseUntil, and returns them. SKIP LOCKED lets replicas claim side by side
// without waiting on each other; a claim whose replica died lapses at leaseUntil and is claimed
// again. Errors: the database's.
func (s store) ClaimDue(ctx context.Context, now, leaseUntil time.Time, limit int) ([]DeadLetter, error) {
	return postgres.QueryAll[DeadLetter](ctx, s.db, `
		UPDATE dead_letters SET status = 'redriving', next_attempt_at = $2
		WHERE id IN (
			SELECT id FROM dead_letters
			WHERE status IN ('pending', 'redriving') AND retryable AND next_attempt_at <= $1
			ORDER BY next_attempt_at
			LIMIT $3
			FOR UPDATE SKIP LOCKED)
		RETURNING `+columns, now, leaseUntil, limit)
}

// outcome is what one redelivery attempt (redrive or replay) changes.
type outcome struct {
	status        Status
	retryable     bool
	errorCode     int
	errorData     string
	nextAttemptAt *time.Time
	lastError     string
	failedAttempt bool // counts in attempts
	replay        bool // counts in replays
}

// Settle records o for the dead letter id and returns it as it now is. Counters are
// incremented in place, so a receipt of the same dead letter meanwhile is not lost. Errors:
// apperr NotFound, or the database's.
func (s store) Settle(ctx context.Context, id uuid.UUID, o outcome) (DeadLetter, error) {
	return postgres.QueryOne[DeadLetter](ctx, s.db, apperr.Errorf(apperr.NotFound, "dead letter not found"), `
		UPDATE dead_letters SET status = $2, retryable = $3, error_code = $4, error_data = $5,
			next_attempt_at = $6, last_error = $7,
			attempts = attempts + CASE WHEN $8 THEN 1 ELSE 0 END,
			replays = replays + CASE WHEN $9 THEN 1 ELSE 0 END
		WHERE id = $1
		RETURNING `+columns,
		id, o.status, o.retryable, o.errorCode, o.errorData, o.nextAttemptAt, o.lastError, o.failedAttempt, o.replay)
}

// PruneDelivered deletes the delivered dead letters last seen before before, and returns how
// many. Undelivered ones stay whatever their age: they wait for a person. Errors: the
// database's.
func (s store) PruneDelivered(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM dead_letters WHERE status = 'delivered' AND last_seen < $1`, before)
	return tag.RowsAffected(), err
}
