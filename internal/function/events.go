package function

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/protocol"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/eventauth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/telemetry"
)

// maxEventBytes bounds an event request body; the data itself is bounded by events.MaxDataBytes.
const maxEventBytes = 2 * events.MaxDataBytes

// MaxAttributeBytes bounds ce-id and ce-source: they are stored in every inbox and dead letter,
// and our own are a UUID and a short path.
const MaxAttributeBytes = 256

// Rejectf is the error for an event a function has no business receiving or cannot parse: it
// wraps events.ErrInvalid, so the event endpoint answers 400.
func Rejectf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", events.ErrInvalid, fmt.Sprintf(format, args...))
}

// EventStatus is the retry contract of the Knative data plane, applied to whatever an
// EventHandler's Handle returns. Errors that say the event can never succeed (events.ErrInvalid,
// apperr Invalid, NotFound, Conflict) are 400, which the broker does not retry but dead-letters.
// A *cehttp.Result keeps its own status. Every other error is 500, which the broker retries with
// backoff. Handlers therefore return their errors as they are; none of them maps statuses.
func EventStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var res *cehttp.Result
	if protocol.ResultAs(err, &res) && res.StatusCode >= 100 && res.StatusCode < 600 {
		return res.StatusCode
	}
	if neverSucceeds(err) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// neverSucceeds reports whether err says the event is at fault rather than the moment.
func neverSucceeds(err error) bool {
	if errors.Is(err, events.ErrInvalid) {
		return true
	}
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.NotFound, apperr.Conflict:
		return true
	}
	return false
}

// errorText is the response body for a failed event: the cause for a 4xx (it describes the
// event, which the sender already has), nothing for a 5xx (it may name hosts and roles).
func errorText(err error, status int) string {
	var res *cehttp.Result
	switch {
	case protocol.ResultAs(err, &res):
		return fmt.Sprintf(res.Format, res.Args...)
	case status >= 500:
		return "internal error"
	case errors.Is(err, events.ErrInvalid):
		return err.Error()
	default:
		return apperr.MessageOf(err)
	}
}

// eventHandler serves CloudEvents (binary or structured HTTP binding) to an EventHandler,
// from the senders auth accepts (any sender when auth is nil: EVENT_AUTH=off).
type eventHandler struct {
	fn   EventHandler
	auth *eventauth.Verifier
}

func (h *eventHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.auth != nil {
		// Before the body is read: an unauthenticated sender costs a header check, no more.
		if _, err := h.auth.Authenticate(r); err != nil {
			status := eventauth.Refuse(w, err)
			slog.WarnContext(ctx, "event refused", "status", status, "err", err, "remote", r.RemoteAddr)
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxEventBytes)
	e, err := binding.ToEvent(ctx, cehttp.NewMessageFromHttpRequest(r))
	if err != nil {
		status := http.StatusBadRequest
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			status = http.StatusRequestEntityTooLarge
		case errors.Is(err, binding.ErrUnknownEncoding):
			status = http.StatusUnsupportedMediaType
		}
		http.Error(w, "not a CloudEvent: "+err.Error(), status)
		return
	}
	if err := e.Validate(); err != nil {
		http.Error(w, "invalid CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(e.ID()) > MaxAttributeBytes || len(e.Source()) > MaxAttributeBytes {
		http.Error(w, fmt.Sprintf("invalid CloudEvent: id and source are limited to %d bytes", MaxAttributeBytes), http.StatusBadRequest)
		return
	}
	ctx, hop := telemetry.StartEvent(ctx, *e, r.Header)
	reply, err := h.fn.Handle(ctx, *e)
	status := EventStatus(err)
	hop.End(reply, status, err) // the reply now continues this hop's trace
	if status >= 300 {
		level := slog.LevelWarn
		if status >= 500 {
			level = slog.LevelError
		}
		slog.Log(ctx, level, "event not handled", "type", e.Type(), "id", e.ID(), "subject", e.Subject(), "status", status, "err", err)
		http.Error(w, errorText(err, status), status)
		return
	}
	if reply == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if err := cehttp.WriteResponseWriter(ctx, binding.ToMessage(reply), http.StatusOK, w); err != nil {
		slog.ErrorContext(ctx, "write reply", "type", e.Type(), "id", e.ID(), "err", err)
	}
}

// EventVerifier is the sender check for fn's event endpoint, from the environment
// (eventauth.Config: EVENT_AUTH, EVENT_AUTH_ISSUER, ...): nil when fn has no event endpoint or
// EVENT_AUTH=off. Errors: a function with an event endpoint and no (or a bad) configuration,
// so that an unprotected endpoint is a decision, never an omission.
func EventVerifier(fn Function) (*eventauth.Verifier, error) {
	if _, ok := fn.(EventHandler); !ok {
		return nil, nil
	}
	cfg, err := ConfigFromEnv[eventauth.Config]()
	if err != nil {
		return nil, err
	}
	return cfg.Verifier()
}
