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
	"github.com/ordersaga/ordersaga/internal/events"
)

// maxEventBytes bounds an event request body; the data itself is bounded by events.MaxDataBytes.
const maxEventBytes = 2 * events.MaxDataBytes

// Result turns a handler's error into the retry contract of the Knative data plane. Errors that
// say the event can never succeed (invalid event, unknown order, a transition the order's state
// rules out) become a 400 result, which the broker does not retry but dead-letters; every other
// error stays as it is and is answered with 500, which the broker retries with backoff.
func Result(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, events.ErrInvalid) {
		return cehttp.NewResult(http.StatusBadRequest, "%s", err.Error())
	}
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.NotFound, apperr.Conflict:
		return cehttp.NewResult(http.StatusBadRequest, "%s", apperr.MessageOf(err))
	}
	return err
}

// Rejectf is the result for an event a function has no business receiving or cannot parse.
func Rejectf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", events.ErrInvalid, fmt.Sprintf(format, args...))
}

// eventHandler serves CloudEvents (binary or structured HTTP binding) to a Function.
type eventHandler struct {
	fn Function
}

func (h *eventHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
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
	reply, err := h.fn.Handle(ctx, *e)
	status := EventStatus(err)
	if status >= 300 {
		level := slog.LevelWarn
		if status >= 500 {
			level = slog.LevelError
		}
		slog.Log(ctx, level, "event not handled", "type", e.Type(), "id", e.ID(), "subject", e.Subject(), "status", status, "err", err)
		http.Error(w, errorText(err), status)
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

// EventStatus is the HTTP status the event endpoint answers for a Handle error.
func EventStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var res *cehttp.Result
	if protocol.ResultAs(err, &res) && res.StatusCode >= 100 && res.StatusCode < 600 {
		return res.StatusCode
	}
	return http.StatusInternalServerError
}

func errorText(err error) string {
	var res *cehttp.Result
	if protocol.ResultAs(err, &res) {
		return fmt.Sprintf(res.Format, res.Args...)
	}
	return "internal error"
}
