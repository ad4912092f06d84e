package gateway

import (
	"errors"
	"net/http"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// maxBodyBytes is the largest body the gateway forwards: the most any REST endpoint takes.
const maxBodyBytes = httpapi.MaxBodyBytes

// limitBody answers 413 itself for a body larger than maxBodyBytes, before anything reaches a
// function. A declared Content-Length is checked before the body is touched, so a client that
// sent `Expect: 100-continue` gets the 413 instead of "100 Continue" (net/http sends that only
// when a handler first reads the body) and never uploads the body at all; proxying such a request
// used to end in a reset connection once the function had refused it. A chunked body is bounded
// as it is read: the proxy's read fails past the limit and errorHandler answers 413.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodyBytes {
			httpapi.WriteError(w, r, errTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

var errTooLarge = apperr.Errorf(apperr.TooLarge, "body is larger than %d bytes", maxBodyBytes)

// isTooLarge reports whether a proxy error is limitBody's bound on a chunked body.
func isTooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}
