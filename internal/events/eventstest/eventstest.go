// Package eventstest builds saga events for handler tests.
package eventstest

import (
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/events"
)

// New builds the event carrying p from source, failing tb on error.
func New(tb testing.TB, source string, p events.Payload) cloudevents.Event {
	tb.Helper()
	e, err := events.New(source, p)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// Decode decodes a reply as payload P, failing tb when it is missing or not a P.
func Decode[P events.Payload](tb testing.TB, reply *cloudevents.Event) P {
	tb.Helper()
	if reply == nil {
		var p P
		tb.Fatalf("no reply, want %s", p.EventType())
	}
	p, err := events.Decode[P](*reply)
	if err != nil {
		tb.Fatalf("reply: %v", err)
	}
	return p
}
