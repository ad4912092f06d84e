package gateway

import (
	"net/http"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// callers tells who calls the console's API: the principal of the access token the user
// function issued (the login cookie, or a Bearer header), verified with the user function's
// published keys, as every function verifies it. The gateway never signs anything.
type callers struct {
	verifier *auth.Verifier
}

// newCallers verifies tokens with the keys keys names.
func newCallers(keys auth.Config) (*callers, error) {
	v, err := keys.Verifier()
	if err != nil {
		return nil, err
	}
	return &callers{verifier: v}, nil
}

// require wraps a console API handler: it answers 401 (or 500 while the keys cannot be fetched)
// without a valid token, and hands the caller to next otherwise.
func (c *callers) require(next func(http.ResponseWriter, *http.Request, auth.Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := c.verifier.Authenticate(r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		next(w, r, p)
	})
}

// check reports whether r's token is still valid (an error when it is not).
func (c *callers) check(r *http.Request) error {
	_, err := c.verifier.Authenticate(r)
	return err
}
