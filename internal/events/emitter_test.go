package events

import (
	"errors"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

func TestCheckEmitter(t *testing.T) {
	for typ, emitter := range EmittedBy {
		e := cloudevents.NewEvent()
		e.SetType(string(typ))
		e.SetSource(sourceOf[emitter])
		if err := CheckEmitter(e); err != nil {
			t.Errorf("%s from %s: %v", typ, emitter, err)
		}
		for other, src := range sourceOf {
			if other == emitter {
				continue
			}
			e.SetSource(src)
			if err := CheckEmitter(e); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s from %s: %v, want ErrInvalid", typ, other, err)
			}
		}
		e.SetSource("ordersaga/attacker")
		if err := CheckEmitter(e); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s from an unknown source: %v", typ, err)
		}
	}
	ping := cloudevents.NewEvent()
	ping.SetType("dev.knative.sources.ping")
	ping.SetSource("/apis/v1/namespaces/ordersaga/pingsources/outbox-sweep")
	if err := CheckEmitter(ping); err != nil {
		t.Errorf("a ping: %v", err)
	}
}
