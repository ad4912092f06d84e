package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
)

// PartitionKey is the CloudEvents extension (partitioning spec) that Kafka uses as the record key,
// so that all events of one order stay in order on one partition.
const PartitionKey = "partitionkey"

// MaxDataBytes bounds an event's data; real payloads are a few hundred bytes.
const MaxDataBytes = 64 << 10

// ErrInvalid wraps every decoding failure: the event can never be handled, so it must not be
// retried (callers answer 400).
var ErrInvalid = errors.New("invalid event")

// DataSchema is the URI naming the version of t's payload schema.
func DataSchema(t Type) string {
	return "urn:ordersaga:events:" + strings.ToLower(string(t)) + ":v1"
}

// New builds the CloudEvent carrying p, emitted by source: a fresh id, the current time, the
// order id as subject and partition key, JSON data and its schema version.
func New(source string, p Payload) (cloudevents.Event, error) {
	if err := p.Validate(); err != nil {
		return cloudevents.Event{}, fmt.Errorf("%s payload: %w", p.EventType(), err)
	}
	e := cloudevents.NewEvent()
	e.SetID(uuid.NewString())
	e.SetSource(source)
	e.SetType(string(p.EventType()))
	e.SetSubject(p.Order())
	e.SetExtension(PartitionKey, p.Order())
	e.SetDataSchema(DataSchema(p.EventType()))
	e.SetTime(time.Now().UTC())
	if err := e.SetData(cloudevents.ApplicationJSON, p); err != nil {
		return cloudevents.Event{}, err
	}
	return e, nil
}

// Reply builds the event a handler answers cause with, carrying cause's traceparent on so one
// order's saga is one trace. The function runtime then makes the reply the child of the span
// that handled cause (telemetry.EventHop.End).
func Reply(cause cloudevents.Event, source string, p Payload) (*cloudevents.Event, error) {
	e, err := New(source, p)
	if err != nil {
		return nil, err
	}
	if tp, ok := cause.Extensions()["traceparent"]; ok {
		e.SetExtension("traceparent", tp)
	}
	return &e, nil
}

// Decode reads e's data as payload P, strictly: e's type must be P's, the data JSON with no
// unknown fields and nothing after the object, the schema version (when given) the one P is, and
// P.Validate must pass. Every failure wraps ErrInvalid.
func Decode[P Payload](e cloudevents.Event) (P, error) {
	var p P
	if got, want := Type(e.Type()), p.EventType(); got != want {
		return p, fmt.Errorf("%w: type %q, want %q", ErrInvalid, got, want)
	}
	if ct := e.DataContentType(); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != cloudevents.ApplicationJSON {
			return p, fmt.Errorf("%w: datacontenttype must be application/json", ErrInvalid)
		}
	}
	if ds := e.DataSchema(); ds != "" && ds != DataSchema(p.EventType()) {
		return p, fmt.Errorf("%w: dataschema %q is not supported, want %q", ErrInvalid, ds, DataSchema(p.EventType()))
	}
	if err := decodeJSON(e.Data(), &p); err != nil {
		return p, fmt.Errorf("%w: %s data: %v", ErrInvalid, e.Type(), err)
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("%w: %s data: %v", ErrInvalid, e.Type(), err)
	}
	if s := e.Subject(); s != "" && s != p.Order() {
		return p, fmt.Errorf("%w: subject %q differs from order_id %q", ErrInvalid, s, p.Order())
	}
	return p, nil
}

// decodeJSON decodes exactly one JSON object into v, rejecting unknown fields and trailing data.
func decodeJSON(data []byte, v any) error {
	if len(data) == 0 {
		return errors.New("no data")
	}
	if len(data) > MaxDataBytes {
		return fmt.Errorf("data is larger than %d bytes", MaxDataBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// DecodeAny decodes e as the payload its type carries, for tools that handle every type (the
// CLI). Errors wrap ErrInvalid, also for a type that is not one of the saga's.
func DecodeAny(e cloudevents.Event) (Payload, error) {
	switch Type(e.Type()) {
	case OrderRequested:
		return Decode[OrderRequestedV1](e)
	case InventoryReserved:
		return Decode[InventoryReservedV1](e)
	case InventoryNotReserved:
		return Decode[InventoryNotReservedV1](e)
	case TransactionCompleted:
		return Decode[TransactionCompletedV1](e)
	case TransactionFailed:
		return Decode[TransactionFailedV1](e)
	case OrderAccepted:
		return Decode[OrderAcceptedV1](e)
	case OrderShipped:
		return Decode[OrderShippedV1](e)
	case OrderCompleted:
		return Decode[OrderCompletedV1](e)
	case OrderCancelled:
		return Decode[OrderCancelledV1](e)
	case OrderCancelRequested:
		return Decode[OrderCancelRequestedV1](e)
	}
	return nil, fmt.Errorf("%w: %q is not a saga event type", ErrInvalid, e.Type())
}
