// Package apperr is the project's one error type: a code that says what kind of failure it is and
// a message safe to show a client. HTTP and CloudEvents status codes are derived from the code in
// exactly one place each (internal/httpapi and internal/function).
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error. Anything that is not an *Error is Internal.
type Code string

const (
	Invalid         Code = "invalid"           // the input can never succeed as it is
	Unauthorized    Code = "unauthorized"      // no, bad or expired credentials
	Forbidden       Code = "forbidden"         // authenticated, but not allowed
	NotFound        Code = "not_found"         // no such thing (or not yours to see)
	Conflict        Code = "conflict"          // clashes with the current state
	TooLarge        Code = "too_large"         // the body exceeds the limit
	UnsupportedType Code = "unsupported_type"  // wrong content type
	TooManyRequests Code = "too_many_requests" // over a rate limit; try again later
	Unavailable     Code = "unavailable"       // overloaded right now; try again later
	Internal        Code = "internal"          // our fault; may succeed on retry
)

// Error is an error with a code and a client-safe message.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns err's code: the code of the first *Error in its chain, Internal for any other
// non-nil error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf returns the message a client may see: the *Error's message, or a generic one for
// internal errors, whose details belong in the log only.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
