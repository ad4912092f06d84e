package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ordersaga/ordersaga/internal/client"
)

// newClient is an anonymous client of the --server URL.
func (a *app) newClient() (*client.Client, error) {
	u, err := url.Parse(a.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--server %q is not an http(s) URL, for example %s", a.server, DefaultServer)
	}
	return client.New(serverKey(a.server), nil), nil
}

// authedClient is a client carrying the stored token for --server.
func (a *app) authedClient() (*client.Client, error) {
	c, err := a.newClient()
	if err != nil {
		return nil, err
	}
	cfg, _, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	login, ok := cfg.Servers[c.BaseURL]
	if !ok || login.AccessToken == "" {
		return nil, fmt.Errorf("not logged in to %s: run %s login", c.BaseURL, a.name)
	}
	if !login.ExpiresAt.IsZero() && time.Now().After(login.ExpiresAt) {
		return nil, fmt.Errorf("your session on %s expired at %s: run %s login", c.BaseURL, login.ExpiresAt.Local().Format(time.DateTime), a.name)
	}
	return c.WithToken(login.AccessToken), nil
}

// withHint adds what a person can do about an error of the REST API, for the errors that have a
// remedy: no answer, an expired or foreign session, a missing admin role.
func (a *app) withHint(err error) error {
	var unreachable *client.UnreachableError
	if errors.As(err, &unreachable) {
		return fmt.Errorf("%w; is `make run` running? (or point --server / ORDERSCTL_SERVER at the gateway)", err)
	}
	var api *client.Error
	if !errors.As(err, &api) {
		return err
	}
	switch {
	case api.Status == http.StatusUnauthorized && api.Path != "/login":
		// A failed login says why itself (invalid email or password).
		return fmt.Errorf("%w: the session is no longer valid: run %s login", err, a.name)
	case api.Status == http.StatusForbidden:
		return fmt.Errorf("%w: run %s login as an admin", err, a.name)
	}
	return err
}
