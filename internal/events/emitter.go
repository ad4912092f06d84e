package events

import (
	"fmt"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// sourceOf is the CloudEvents source each function emits its events with.
var sourceOf = map[string]string{
	"order": SourceOrder, "inventory": SourceInventory, "payment": SourcePayment, "shipping": SourceShipping,
}

// CheckEmitter returns an error wrapping ErrInvalid unless e comes from the source of the
// function that emits its type (EmittedBy): a TRANSACTION_COMPLETED is payment's, never
// anybody else's. Sender authentication says who delivered an event; this says the event
// claims the right author, so one compromised sender cannot speak for another function.
// Types outside the saga (a PingSource's tick) are not checked.
func CheckEmitter(e cloudevents.Event) error {
	emitter, ok := EmittedBy[Type(e.Type())]
	if !ok {
		return nil
	}
	if want := sourceOf[emitter]; e.Source() != want {
		return fmt.Errorf("%w: %s events come from %s, not %q", ErrInvalid, e.Type(), want, e.Source())
	}
	return nil
}
