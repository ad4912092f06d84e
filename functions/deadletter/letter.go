package deadletter

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// Status is where a dead letter stands.
type Status string

const (
	// Pending: transient failure, waiting for the automatic redrive (next_attempt_at).
	Pending Status = "pending"
	// Redriving: claimed by one replica's redrive pass; if that replica dies, the claim lapses at
	// next_attempt_at and another pass takes it.
	Redriving Status = "redriving"
	// Delivered: the subscriber took it (2xx), and its reply, if any, reached the broker.
	Delivered Status = "delivered"
	// FailedPermanently: the redrive will not touch it again (the subscriber refused it with a
	// 4xx, or the redrive window passed); it waits for a person to replay it.
	FailedPermanently Status = "failed_permanently"
)

// statuses are the valid values, for checking filters.
var statuses = map[Status]bool{Pending: true, Redriving: true, Delivered: true, FailedPermanently: true}

// Retryable reports whether a delivery that ended with HTTP status code may succeed later by
// itself: a 5xx, a timeout (408), throttling (429) or no answer at all (0: connection refused,
// reset, timed out). Any other 4xx says the event itself is refused, so retrying it unchanged
// would only fail again.
func Retryable(code int) bool {
	return code == 0 || code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
}

// DeadLetter is one event that failed for one subscriber, as stored.
type DeadLetter struct {
	ID            uuid.UUID  `db:"id"`
	EventSource   string     `db:"event_source"`
	EventID       string     `db:"event_id"`
	Destination   string     `db:"destination"`
	Type          string     `db:"type"`
	OrderID       string     `db:"order_id"`
	Event         []byte     `db:"event"`
	ErrorCode     int        `db:"error_code"`
	ErrorData     string     `db:"error_data"`
	Status        Status     `db:"status"`
	Retryable     bool       `db:"retryable"`
	Attempts      int        `db:"attempts"`
	Replays       int        `db:"replays"`
	FirstSeen     time.Time  `db:"first_seen"`
	LastSeen      time.Time  `db:"last_seen"`
	NextAttemptAt *time.Time `db:"next_attempt_at"`
	LastError     string     `db:"last_error"`
}

// View is a dead letter as the REST API shows it. Event is set by show and replay only: a list
// of full events would be large.
type View struct {
	ID            uuid.UUID       `json:"id"`
	EventID       string          `json:"event_id"`
	EventSource   string          `json:"event_source"`
	Type          string          `json:"type"`
	OrderID       string          `json:"order_id"`
	Destination   string          `json:"destination"`
	Status        Status          `json:"status"`
	Retryable     bool            `json:"retryable"`
	ErrorCode     int             `json:"error_code"`
	ErrorData     string          `json:"error_data"`
	Attempts      int             `json:"attempts"`
	Replays       int             `json:"replays"`
	FirstSeen     time.Time       `json:"first_seen"`
	LastSeen      time.Time       `json:"last_seen"`
	NextAttemptAt *time.Time      `json:"next_attempt_at"`
	LastError     string          `json:"last_error"`
	Event         json.RawMessage `json:"event,omitempty"`
}

// view is d without its event.
func (d DeadLetter) view() View {
	return View{
		ID: d.ID, EventID: d.EventID, EventSource: d.EventSource, Type: d.Type, OrderID: d.OrderID,
		Destination: d.Destination, Status: d.Status, Retryable: d.Retryable, ErrorCode: d.ErrorCode,
		ErrorData: d.ErrorData, Attempts: d.Attempts, Replays: d.Replays, FirstSeen: d.FirstSeen,
		LastSeen: d.LastSeen, NextAttemptAt: d.NextAttemptAt, LastError: d.LastError,
	}
}

// detail is d with its event. The stored bytes are JSON (see encodeEvent), so they are shown as
// they are.
func (d DeadLetter) detail() View {
	v := d.view()
	v.Event = json.RawMessage(d.Event)
	return v
}
