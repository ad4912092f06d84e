package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client speaks the REST contract (DESIGN.md section 5) to one gateway.
type client struct {
	base  string
	token string
	name  string // the CLI's name, for hints
	http  *http.Client
}

// apiError is an error answer from the server: its status and its {"error": "..."} message.
type apiError struct {
	Status  int
	Message string
	hint    string
}

func (e *apiError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.hint != "" {
		return msg + ": " + e.hint
	}
	return msg
}

// newClient is a client for the --server URL, without a token.
func (a *app) newClient() (*client, error) {
	u, err := url.Parse(a.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--server %q is not an http(s) URL, for example %s", a.server, DefaultServer)
	}
	return &client{base: serverKey(a.server), name: a.name, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// authedClient is a client carrying the stored token for --server.
func (a *app) authedClient() (*client, error) {
	c, err := a.newClient()
	if err != nil {
		return nil, err
	}
	cfg, _, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	login, ok := cfg.Servers[c.base]
	if !ok || login.AccessToken == "" {
		return nil, fmt.Errorf("not logged in to %s: run %s login", c.base, a.name)
	}
	if !login.ExpiresAt.IsZero() && time.Now().After(login.ExpiresAt) {
		return nil, fmt.Errorf("your session on %s expired at %s: run %s login", c.base, login.ExpiresAt.Local().Format(time.DateTime), a.name)
	}
	c.token = login.AccessToken
	return c, nil
}

// do sends a request with an optional JSON body and decodes a JSON answer into out (when not
// nil). It returns the raw body too, for the json and yaml outputs.
func (c *client) do(ctx context.Context, method, path string, body any, out any, header ...string) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.unreachable(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s %s: %w", method, c.base+path, err)
	}
	if resp.StatusCode >= 300 {
		return raw, c.errorOf(resp.StatusCode, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("unexpected answer from %s %s (%v): is --server the ordersaga gateway?", method, c.base+path, err)
		}
	}
	return raw, nil
}

// unreachable turns a transport error into one that says what to do.
func (c *client) unreachable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var op *net.OpError
	var dns *net.DNSError
	if errors.As(err, &op) || errors.As(err, &dns) {
		return fmt.Errorf("cannot reach %s: is `make run` running? (or point --server / ORDERSCTL_SERVER at the gateway)", c.base)
	}
	return fmt.Errorf("cannot reach %s: %v", c.base, err)
}

// errorOf is the error for a non-2xx answer, with a hint for the statuses a person can act on.
func (c *client) errorOf(status int, raw []byte) error {
	var body struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(raw, &body)
	e := &apiError{Status: status, Message: body.Error}
	if e.Message == "" {
		e.Message = fmt.Sprintf("%d %s", status, http.StatusText(status))
		if len(raw) > 0 && len(raw) < 200 && !strings.ContainsAny(string(raw), "<{") {
			e.Message += ": " + strings.TrimSpace(string(raw))
		}
	}
	switch status {
	case http.StatusUnauthorized:
		if c.token == "" {
			break // a failed login says why itself
		}
		e.hint = "not logged in or the session expired: run " + c.name + " login"
	case http.StatusForbidden:
		e.hint = "this needs an admin account: run " + c.name + " login as an admin"
	}
	return e
}

// Views of the REST contract (DESIGN.md section 5).
type (
	userView struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	loginView struct {
		AccessToken string `json:"access_token"`
		ExpiresAt   string `json:"expires_at"`
	}
	itemView struct {
		SKU        string `json:"sku"`
		Name       string `json:"name"`
		PriceCents int64  `json:"price_cents"`
		Available  int64  `json:"available"`
		Reserved   int64  `json:"reserved"`
		Sold       int64  `json:"sold"`
	}
	lineView struct {
		SKU      string `json:"sku"`
		Quantity int64  `json:"quantity"`
	}
	orderView struct {
		ID                string     `json:"id"`
		UserID            string     `json:"user_id"`
		Status            string     `json:"status"`
		Items             []lineView `json:"items"`
		InventoryReserved bool       `json:"inventory_reserved"`
		TotalCents        int64      `json:"total_cents"`
		CancelReason      string     `json:"cancel_reason,omitempty"`
		TrackingID        string     `json:"tracking_id,omitempty"`
		CreatedAt         time.Time  `json:"created_at"`
		UpdatedAt         time.Time  `json:"updated_at"`
	}
)

// terminal reports whether an order's status is final.
func terminal(status string) bool { return status == "COMPLETED" || status == "CANCELLED" }
