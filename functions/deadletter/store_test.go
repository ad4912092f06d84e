package deadletter

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

func TestRetryable(t *testing.T) {
	for code, want := range map[int]bool{
		0: true, 500: true, 502: true, 503: true, 504: true, 408: true, 429: true,
		400: false, 401: false, 403: false, 404: false, 409: false, 413: false, 415: false, 422: false,
	} {
		if got := Retryable(code); got != want {
			t.Errorf("Retryable(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestReceivingTheSameDeadLetterAgainKeepsOneRow(t *testing.T) {
	f := newFixture(t)
	dest := "http://payment.ordersaga.svc.cluster.local"
	e := deadLetter("ev-1", "INVENTORY_RESERVED", "order-1", dest, 503)
	f.receive(t, e)
	first := f.only(t, Filter{})
	f.clock.advance(time.Minute)
	f.receive(t, e)
	again := f.only(t, Filter{})

	if again.ID != first.ID {
		t.Errorf("second receipt made row %s, want the first one %s", again.ID, first.ID)
	}
	if first.Attempts != 1 || again.Attempts != 2 {
		t.Errorf("attempts %d then %d, want 1 then 2", first.Attempts, again.Attempts)
	}
	if !again.FirstSeen.Equal(first.FirstSeen) || !again.LastSeen.Equal(first.LastSeen.Add(time.Minute)) {
		t.Errorf("first/last seen %v/%v, want %v/%v", again.FirstSeen, again.LastSeen, first.FirstSeen, first.LastSeen.Add(time.Minute))
	}
	if again.Status != Pending || !again.Retryable || again.NextAttemptAt == nil {
		t.Errorf("status %s retryable %v next %v, want pending, retryable, scheduled", again.Status, again.Retryable, again.NextAttemptAt)
	}
	if again.ErrorCode != 503 || again.ErrorData != "answer 503" || again.OrderID != "order-1" || again.Destination != dest {
		t.Errorf("stored %+v", again.view())
	}

	// The same event failing for another subscriber is another dead letter.
	f.receive(t, deadLetter("ev-1", "INVENTORY_RESERVED", "order-1", "http://order.ordersaga.svc.cluster.local", 503))
	all, err := store{db: f.fn.Pool}.List(context.Background(), Filter{}, 10)
	if err != nil || len(all) != 2 {
		t.Fatalf("List = %d rows, %v; want 2", len(all), err)
	}
}

func TestARefusedDeadLetterWaitsForAPerson(t *testing.T) {
	f := newFixture(t)
	f.receive(t, deadLetter("ev-400", "ORDER_ACCEPTED", "order-2", "http://shipping", http.StatusBadRequest))
	d := f.only(t, Filter{})
	if d.Status != FailedPermanently || d.Retryable || d.NextAttemptAt != nil {
		t.Errorf("status %s retryable %v next %v; want failed_permanently, not retryable, unscheduled", d.Status, d.Retryable, d.NextAttemptAt)
	}
	if !strings.Contains(d.LastError, "HTTP 400") {
		t.Errorf("last_error %q does not say why", d.LastError)
	}
}

func TestAnyEventIsStoredAsItCame(t *testing.T) {
	f := newFixture(t)
	e := cloudevents.NewEvent()
	e.SetID("broken")
	e.SetSource("somewhere")
	e.SetType("NOT_A_SAGA_TYPE")
	// Data that claims to be JSON and is not, with a NUL and invalid UTF-8 in the error data.
	if err := e.SetData(cloudevents.ApplicationJSON, []byte("{not json\x00\xff")); err != nil {
		t.Fatal(err)
	}
	e.SetExtension(ExtErrorData, "not base64 \x00\xff")
	f.receive(t, e)
	d := f.only(t, Filter{Type: "NOT_A_SAGA_TYPE"})
	if d.Status != FailedPermanently || d.ErrorCode != 0 || d.Retryable {
		t.Errorf("status %s code %d retryable %v: with no destination it cannot be redriven", d.Status, d.ErrorCode, d.Retryable)
	}
	if !json.Valid(d.Event) {
		t.Fatalf("stored event is not JSON: %s", d.Event)
	}
	back, err := decodeEvent(d.Event)
	if err != nil {
		t.Fatal(err)
	}
	if string(back.Data()) != "{not json\x00\xff" || back.Type() != "NOT_A_SAGA_TYPE" {
		t.Errorf("stored event's data %q type %q, want the bytes received", back.Data(), back.Type())
	}
}

func TestOpenRefusesABadConfiguration(t *testing.T) {
	good := Config{Sink: "http://broker/ns/default", Redrive: RedriveConfig{Initial: time.Second, MaxBackoff: time.Minute,
		Window: time.Hour, Interval: time.Second, Timeout: time.Second, Retention: time.Hour}}
	if err := good.validate(); err != nil {
		t.Fatalf("a good configuration: %v", err)
	}
	for name, change := range map[string]func(*Config){
		"no K_SINK":           func(c *Config) { c.Sink = "" },
		"relative K_SINK":     func(c *Config) { c.Sink = "/ns/default" },
		"max below initial":   func(c *Config) { c.Redrive.MaxBackoff = time.Millisecond },
		"no window":           func(c *Config) { c.Redrive.Window = 0 },
		"negative retention":  func(c *Config) { c.Redrive.Retention = -time.Hour },
		"no delivery timeout": func(c *Config) { c.Redrive.Timeout = 0 },
		"no interval":         func(c *Config) { c.Redrive.Interval = 0 },
	} {
		bad := good
		change(&bad)
		if err := bad.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
