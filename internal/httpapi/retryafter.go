package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/ordersaga/ordersaga/internal/apperr"
)

// retryAfter is an error with the time a client should wait before trying again.
type retryAfter struct {
	err   *apperr.Error
	after time.Duration
}

func (e *retryAfter) Error() string { return e.err.Error() }
func (e *retryAfter) Unwrap() error { return e.err }

// RetryAfter is err with a Retry-After of after (rounded up to whole seconds, at least 1): for
// the 429 of a rate limit and the 503 of a full queue, so a well-behaved client backs off
// instead of hammering. Its code and message are err's.
func RetryAfter(err *apperr.Error, after time.Duration) error {
	return &retryAfter{err: err, after: after}
}

// setRetryAfter sets the Retry-After header when err carries one (RetryAfter).
func setRetryAfter(w http.ResponseWriter, err error) {
	var ra *retryAfter
	if !errors.As(err, &ra) {
		return
	}
	seconds := max(1, int(math.Ceil(ra.after.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
}
