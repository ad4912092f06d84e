// Package httpapi is the REST side of every function: strict JSON request decoding, JSON
// responses, and the one place where an error's code becomes an HTTP status.
package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"

	"github.com/ordersaga/ordersaga/internal/apperr"
)

// MaxBodyBytes bounds every REST request body.
const MaxBodyBytes = 64 << 10

// HandlerFunc is an HTTP handler that returns its error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP runs f and writes its error, if any, as JSON.
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		WriteError(w, r, err)
	}
}

// Decode reads r's body into v: the content type must be JSON, the body at most MaxBodyBytes and
// exactly one JSON object whose fields v knows. Errors are *apperr.Error with codes
// UnsupportedType, TooLarge or Invalid.
func Decode(r *http.Request, v any) error { return DecodeLimit(r, v, MaxBodyBytes) }

// DecodeLimit is Decode with a body limit of its own, for endpoints that take less.
func DecodeLimit(r *http.Request, v any, maxBytes int) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return apperr.Errorf(apperr.UnsupportedType, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(maxBytes)+1))
	if err != nil {
		return apperr.Errorf(apperr.Invalid, "cannot read body")
	}
	if len(body) > maxBytes {
		return apperr.Errorf(apperr.TooLarge, "body is larger than %d bytes", maxBytes)
	}
	return DecodeBytes(body, v)
}

// DecodeBytes decodes exactly one JSON object with no unknown fields from body into v.
func DecodeBytes(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apperr.Errorf(apperr.Invalid, "invalid JSON body: %s", describe(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.Errorf(apperr.Invalid, "invalid JSON body: unexpected data after the object")
	}
	return nil
}

// describe turns a decoding error into a short message that names the field at fault; it
// echoes no values, only (for an unknown field) the field's name.
func describe(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return "field " + typeErr.Field + " must be " + typeErr.Type.String()
	case errors.As(err, &syntaxErr):
		return "malformed JSON"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "body is empty or truncated"
	default:
		return err.Error() // "json: unknown field \"x\"" and the like
	}
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Status maps an error's code to its HTTP status: the only such mapping in the project.
func Status(err error) int {
	switch apperr.CodeOf(err) {
	case apperr.Invalid:
		return http.StatusBadRequest
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.UnsupportedType:
		return http.StatusUnsupportedMediaType
	case apperr.TooManyRequests:
		return http.StatusTooManyRequests
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// WriteError writes err as {"error": message}; internal errors are logged, never shown. An error
// made by RetryAfter also sets the Retry-After header.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status := Status(err)
	if status == http.StatusInternalServerError { // not a deliberate 503, which a flood repeats
		slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ordersaga"`)
	}
	setRetryAfter(w, err)
	WriteJSON(w, status, map[string]string{"error": apperr.MessageOf(err)})
}
