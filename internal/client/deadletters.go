package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DeadLetter is the dead-letter view (functions/deadletter): an event that failed for one
// subscriber, where it stands and why. Event, the CloudEvent as received, is set by
// DeadLetter and the replays only.
type DeadLetter struct {
	ID            string          `json:"id"`
	EventID       string          `json:"event_id"`
	EventSource   string          `json:"event_source"`
	Type          string          `json:"type"`
	OrderID       string          `json:"order_id"`
	Destination   string          `json:"destination"`
	Status        string          `json:"status"`
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

// DeadLetterFilter selects dead letters; empty fields match everything. It is the body of
// POST /deadletters/replay and the query of GET /deadletters.
type DeadLetterFilter struct {
	Status      string `json:"status,omitempty"`
	Type        string `json:"type,omitempty"`
	Order       string `json:"order,omitempty"`
	Destination string `json:"destination,omitempty"`
}

// ReplayResult is the answer of POST /deadletters/replay.
type ReplayResult struct {
	Replayed  int `json:"replayed"`
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
}

// DeadLetters lists the dead letters matching f, most recently dead-lettered first, at most
// limit (0: the server's default). Admins only.
func (c *Client) DeadLetters(ctx context.Context, f DeadLetterFilter, limit int) ([]DeadLetter, error) {
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "type": f.Type, "order": f.Order, "destination": f.Destination} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/deadletters"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var body struct {
		DeadLetters []DeadLetter `json:"dead_letters"`
	}
	err := c.Do(ctx, http.MethodGet, path, nil, nil, &body)
	return body.DeadLetters, err
}

// DeadLetter reads one dead letter with its event. Admins only.
func (c *Client) DeadLetter(ctx context.Context, id string) (DeadLetter, error) {
	var d DeadLetter
	err := c.Do(ctx, http.MethodGet, "/deadletters/"+url.PathEscape(id), nil, nil, &d)
	return d, err
}

// ReplayDeadLetter redelivers one dead letter now and returns it as it then is (its status says
// whether it was delivered). One already delivered is a 409 unless force. Admins only.
func (c *Client) ReplayDeadLetter(ctx context.Context, id string, force bool) (DeadLetter, error) {
	path := "/deadletters/" + url.PathEscape(id) + "/replay"
	if force {
		path += "?force=true"
	}
	var d DeadLetter
	err := c.Do(ctx, http.MethodPost, path, nil, nil, &d)
	return d, err
}

// ReplayDeadLetters redelivers every dead letter matching f (at most 500 per call; delivered
// ones only when f's status is delivered). Admins only.
func (c *Client) ReplayDeadLetters(ctx context.Context, f DeadLetterFilter) (ReplayResult, error) {
	var res ReplayResult
	err := c.Do(ctx, http.MethodPost, "/deadletters/replay", nil, f, &res)
	return res, err
}
