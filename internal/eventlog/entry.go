package eventlog

import (
	"encoding/json"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/kafka"
)

// Entry is one record read from the topic: a CloudEvent in the Kafka binding, or (NotEvent)
// anything else someone wrote there.
type Entry struct {
	Event cloudevents.Event
	// Time is the event's time, else the record's.
	Time      time.Time
	Record    *kgo.Record
	NotEvent  bool
	Partition int32
	Offset    int64
}

// entryOf reads a record as a CloudEvent in the Kafka binding, when it is one.
func entryOf(rec *kgo.Record) Entry {
	e := Entry{Record: rec, Time: rec.Timestamp, Partition: rec.Partition, Offset: rec.Offset}
	ev, err := kafka.Event(rec)
	if err != nil {
		e.NotEvent = true
		return e
	}
	e.Event = ev
	if !ev.Time().IsZero() {
		e.Time = ev.Time()
	}
	return e
}

// Order is the order the entry belongs to: its subject, partition key, record key or the
// order_id in its data.
func (e Entry) Order() string {
	if e.NotEvent {
		return string(e.Record.Key)
	}
	if s := e.Event.Subject(); s != "" {
		return s
	}
	if v, ok := e.Event.Extensions()[events.PartitionKey]; ok {
		if s, ok := v.(string); ok && s != "" {
			return s
		}
	}
	if len(e.Record.Key) > 0 {
		return string(e.Record.Key)
	}
	var d struct {
		OrderID string `json:"order_id"`
	}
	_ = json.Unmarshal(e.Event.Data(), &d)
	return d.OrderID
}

// UserID is the user the event names in its data (ORDER_REQUESTED, INVENTORY_RESERVED and
// ORDER_ACCEPTED do), or "".
func (e Entry) UserID() string {
	if e.NotEvent {
		return ""
	}
	var d struct {
		UserID string `json:"user_id"`
	}
	_ = json.Unmarshal(e.Event.Data(), &d)
	return d.UserID
}

// TraceID is the W3C trace id of the event's traceparent extension, or "" without one.
func (e Entry) TraceID() string {
	if e.NotEvent {
		return ""
	}
	return traceID(e.Event)
}

// traceID takes the trace id out of a traceparent: version-traceid-parentid-flags.
func traceID(ev cloudevents.Event) string {
	tp, _ := ev.Extensions()["traceparent"].(string)
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	return parts[1]
}
