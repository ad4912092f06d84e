package deadletter

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/apperr"
)

// claimBatch is how many dead letters one pass claims at a time.
const claimBatch = 50

// pruneEvery is how often a running instance forgets delivered dead letters past retention.
const pruneEvery = time.Hour

// Maintain prunes the inbox (the embedded Database), runs a redrive pass every
// Redrive.Interval and forgets old delivered dead letters hourly, until ctx ends (see
// function.Maintainer).
func (f *Function) Maintain(ctx context.Context) {
	go f.Database.Maintain(ctx)
	redrive := time.NewTicker(f.redrive.Interval)
	defer redrive.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-redrive.C:
			if _, err := f.RedrivePass(ctx); err != nil && ctx.Err() == nil {
				slog.ErrorContext(ctx, "redrive pass", "err", err)
			}
		case <-prune.C:
			if _, err := f.Prune(ctx); err != nil && ctx.Err() == nil {
				slog.WarnContext(ctx, "dead letters prune", "err", err)
			}
		}
	}
}

// Prune deletes the delivered dead letters last seen more than Redrive.Retention ago and
// returns how many. Errors: the database's.
func (f *Function) Prune(ctx context.Context) (int64, error) {
	n, err := store{db: f.Pool}.PruneDelivered(ctx, f.now().Add(-f.redrive.Retention))
	if n > 0 {
		slog.InfoContext(ctx, "dead letters pruned", "rows", n)
	}
	return n, err
}

// RedrivePass redelivers every retryable dead letter that is due, batch by batch, and returns
// how many it delivered. A destination is checked for readiness once per pass; while it is not
// ready its dead letters back off without being sent. Errors: the database's; a failed delivery
// is recorded on its dead letter, not returned.
func (f *Function) RedrivePass(ctx context.Context) (delivered int, err error) {
	ready := map[string]error{} // by destination origin
	for {
		now := f.now()
		claimed, err := store{db: f.Pool}.ClaimDue(ctx, now, now.Add(f.lease()), claimBatch)
		if err != nil || len(claimed) == 0 {
			return delivered, err
		}
		for _, d := range claimed {
			ok, err := f.redriveOne(ctx, d, ready)
			if err != nil {
				return delivered, err
			}
			if ok {
				delivered++
			}
		}
	}
}

// lease is how long a claim holds: a whole redelivery and then some, so that a slow one is not
// claimed twice.
func (f *Function) lease() time.Duration { return 2*f.redrive.Timeout + healthTimeout }

// redriveOne tries one claimed dead letter and records the outcome. Errors: the database's.
func (f *Function) redriveOne(ctx context.Context, d DeadLetter, ready map[string]error) (bool, error) {
	now := f.now()
	if f.expired(d, now) {
		_, err := store{db: f.Pool}.Settle(ctx, d.ID, outcome{
			status: FailedPermanently, retryable: d.Retryable, errorCode: d.ErrorCode, errorData: d.ErrorData,
			lastError: f.expiredReason(d),
		})
		return false, err
	}
	if f.redeliverable(d.Destination) != nil {
		after, err := f.redeliver(ctx, d, false) // records why, and that it waits for a person
		return after.Status == Delivered, err
	}
	origin := originOf(d.Destination)
	healthErr, checked := ready[origin]
	if !checked {
		healthErr = f.courier.healthy(ctx, d.Destination)
		ready[origin] = healthErr
	}
	if healthErr != nil {
		next := now.Add(f.backoff(d.Attempts + 1))
		_, err := store{db: f.Pool}.Settle(ctx, d.ID, outcome{
			status: Pending, retryable: true, errorCode: d.ErrorCode, errorData: d.ErrorData,
			nextAttemptAt: &next, lastError: "destination not ready: " + healthErr.Error(), failedAttempt: true,
		})
		return false, err
	}
	after, err := f.redeliver(ctx, d, false)
	return after.Status == Delivered, err
}

// Replay redelivers the dead letter id once, now, whatever its status and its destination's
// health, and records it as a replay. Errors: apperr NotFound; apperr Conflict when it was
// already delivered and force is false; the database's. A failed delivery is recorded, not
// returned: the result says how it went.
func (f *Function) Replay(ctx context.Context, id uuid.UUID, force bool) (DeadLetter, error) {
	d, err := store{db: f.Pool}.Get(ctx, id)
	if err != nil {
		return DeadLetter{}, err
	}
	if d.Status == Delivered && !force {
		return DeadLetter{}, apperr.Errorf(apperr.Conflict, "dead letter %s was already delivered; replay with force=true to send it again", id)
	}
	return f.redeliver(ctx, d, true)
}

// ReplayResult counts what a bulk replay did.
type ReplayResult struct {
	Replayed  int `json:"replayed"`
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
}

// maxBulkReplay bounds one bulk replay, so that one request ends in reasonable time; repeat it
// for more.
const maxBulkReplay = 500

// ReplayMatching replays up to maxBulkReplay dead letters matching filter, one after another.
// Delivered ones are left out unless the filter asks for status delivered. Errors: the
// database's; failed deliveries are counted, not returned.
func (f *Function) ReplayMatching(ctx context.Context, filter Filter) (ReplayResult, error) {
	all, err := store{db: f.Pool}.List(ctx, filter, maxBulkReplay)
	if err != nil {
		return ReplayResult{}, err
	}
	var res ReplayResult
	for _, d := range all {
		if d.Status == Delivered && filter.Status != Delivered {
			continue
		}
		after, err := f.redeliver(ctx, d, true)
		if err != nil {
			return res, err
		}
		res.Replayed++
		if after.Status == Delivered {
			res.Delivered++
		} else {
			res.Failed++
		}
	}
	return res, nil
}

// redeliver sends d to its destination and records how it went. Errors: the database's (and
// a stored event that does not decode, which is recorded too).
func (f *Function) redeliver(ctx context.Context, d DeadLetter, replay bool) (DeadLetter, error) {
	var dl delivery
	if e, err := decodeEvent(d.Event); err != nil {
		dl = delivery{err: err, hopeless: true}
	} else if err := f.redeliverable(d.Destination); err != nil {
		dl = delivery{err: err, hopeless: true}
	} else {
		dl = f.courier.deliver(ctx, e, d.Destination)
	}
	o := f.outcomeOf(d, dl)
	o.replay = replay
	after, err := store{db: f.Pool}.Settle(ctx, d.ID, o)
	if err != nil {
		return DeadLetter{}, err
	}
	slog.InfoContext(ctx, "dead letter redelivered", "dead_letter", d.ID, "type", d.Type, "id", d.EventID,
		"destination", d.Destination, "replay", replay, "status", after.Status, "last_error", after.LastError)
	return after, nil
}

// outcomeOf is what dl changes on d. The subscriber's latest answer decides whether d stays
// retryable; a failure that is not the subscriber's (no answer, the reply not forwarded) is
// retryable, unless it never can succeed (hopeless). Past the window, or refused, d waits for a
// person.
func (f *Function) outcomeOf(d DeadLetter, dl delivery) outcome {
	o := outcome{errorCode: d.ErrorCode, errorData: d.ErrorData, retryable: d.Retryable}
	if dl.err == nil {
		o.status = Delivered
		return o
	}
	o.failedAttempt = true
	o.lastError = dl.err.Error()
	switch {
	case dl.hopeless:
		o.retryable = false
	case dl.answered && (dl.code < 200 || dl.code > 299):
		o.errorCode, o.errorData = dl.code, dl.body
		o.retryable = Retryable(dl.code)
	default:
		o.retryable = true
	}
	now := f.now()
	switch {
	case !o.retryable:
		o.status = FailedPermanently
	case f.expired(d, now):
		o.status = FailedPermanently
		o.lastError += "; " + f.expiredReason(d)
	default:
		o.status = Pending
		o.nextAttemptAt = ptr(now.Add(f.backoff(d.Attempts + 1)))
	}
	return o
}

// expired reports whether d's redrive window has passed at now.
func (f *Function) expired(d DeadLetter, now time.Time) bool {
	return !now.Before(d.FirstSeen.Add(f.redrive.Window))
}

func (f *Function) expiredReason(d DeadLetter) string {
	return fmt.Sprintf("redrive window of %s since %s passed: replay it once the cause is fixed",
		f.redrive.Window, d.FirstSeen.UTC().Format(time.RFC3339))
}

// backoff is the wait after the attempts-th failed attempt: Initial doubled per attempt after
// the first, at most MaxBackoff.
func (f *Function) backoff(attempts int) time.Duration {
	b := f.redrive.Initial
	for i := 1; i < attempts && b < f.redrive.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, f.redrive.MaxBackoff)
}

// originOf is destination's scheme and host, what its readiness is checked on.
func originOf(destination string) string {
	if u, err := url.Parse(destination); err == nil {
		return u.Scheme + "://" + u.Host
	}
	return destination
}
