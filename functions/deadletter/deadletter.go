// Package deadletter is the dead-letter sink function. Knative delivers an event here when its
// subscriber answered 4xx (it can never succeed) or retries ran out, adding the extensions
// knativeerrorcode (the last HTTP status), knativeerrordata (the response body, base64) and
// knativeerrordest (the subscriber). Handle logs those with the event's identity as one JSON line
// and acknowledges the event, so nothing is retried from here. It needs no database.
package deadletter

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/function"
)

// Extensions Knative sets on a dead-lettered event.
const (
	ExtErrorCode = "knativeerrorcode"
	ExtErrorData = "knativeerrordata"
	ExtErrorDest = "knativeerrordest"
)

// maxErrorData bounds how much of the subscriber's answer is logged.
const maxErrorData = 1 << 10

// Sink is the dead-letter function.
type Sink struct{}

var _ function.EventHandler = (*Sink)(nil)

// New returns the dead-letter function.
func New() *Sink { return &Sink{} }

// Handle logs e's type, id, source, subject, partition key and the knativeerror* extensions as
// one JSON line at level WARN, and never fails: a dead letter is recorded, not retried.
func (*Sink) Handle(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	ext := e.Extensions()
	slog.WarnContext(ctx, "dead letter",
		"type", e.Type(),
		"id", e.ID(),
		"source", e.Source(),
		"subject", e.Subject(),
		"partitionkey", extString(ext, "partitionkey"),
		ExtErrorCode, extString(ext, ExtErrorCode),
		ExtErrorData, errorData(extString(ext, ExtErrorData)),
		ExtErrorDest, extString(ext, ExtErrorDest),
	)
	return nil, nil
}

func extString(ext map[string]any, name string) string {
	v, ok := ext[name]
	if !ok {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// errorData is the subscriber's answer: knativeerrordata decoded from base64 when it is that
// (it is, from Knative's dispatchers), bounded in size.
func errorData(s string) string {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		s = string(b)
	}
	if len(s) > maxErrorData {
		s = s[:maxErrorData] + "..."
	}
	return s
}
