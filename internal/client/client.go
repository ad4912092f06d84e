// Package client speaks the ordersaga REST API (the gateway's paths: accounts, items, orders) in
// its JSON views. The CLI, the load test and the end-to-end tests all use it, so the views exist
// once.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one gateway, as one signed-in user once Token is set.
type Client struct {
	// BaseURL is the gateway's URL, without a trailing slash.
	BaseURL string
	// Token is the access token sent as a Bearer token; empty for anonymous calls.
	Token string
	// HTTP sends the requests.
	HTTP *http.Client
}

// New is an anonymous client of the gateway at baseURL. httpClient nil means one with a 30 s
// timeout per request.
func New(baseURL string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: httpClient}
}

// WithToken is a copy of c that sends token; it shares c's connections.
func (c *Client) WithToken(token string) *Client {
	signedIn := *c
	signedIn.Token = token
	return &signedIn
}

// Error is an error answer of the API: its status and the message of its {"error": "..."} body.
type Error struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *Error) Error() string { return e.Message }

// UnreachableError is a request that got no answer: the server is down, or the URL is wrong.
type UnreachableError struct {
	BaseURL string
	Err     error
}

func (e *UnreachableError) Error() string { return "cannot reach " + e.BaseURL + ": " + e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// maxAnswer bounds what is read of an answer; the longest, GET /orders?limit=1000, is far less.
const maxAnswer = 16 << 20

// Do sends body (when not nil) as JSON and decodes a 2xx answer into out (when not nil). A non-2xx
// answer is an *Error; no answer at all is an *UnreachableError, or ctx's error once ctx ended.
func (c *Client) Do(ctx context.Context, method, path string, header http.Header, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// url.Error repeats the method and URL; what went wrong is inside.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &UnreachableError{BaseURL: c.BaseURL, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("reading the answer of %s %s: %w", method, c.BaseURL+path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorOf(method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("unexpected answer from %s %s (%v): is %s the ordersaga gateway?", method, c.BaseURL+path, err, c.BaseURL)
		}
	}
	return nil
}

// errorOf reads an error answer. Its message is the body's "error"; a body without one (a proxy's
// page, say) is described by its status, and by its text when that is short and plain.
func errorOf(method, path string, status int, raw []byte) *Error {
	var body struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(raw, &body)
	e := &Error{Method: method, Path: path, Status: status, Message: body.Error}
	if e.Message == "" {
		e.Message = fmt.Sprintf("%d %s", status, http.StatusText(status))
		if text := strings.TrimSpace(string(raw)); text != "" && len(text) < 200 && !strings.ContainsAny(text, "<{") {
			e.Message += ": " + text
		}
	}
	return e
}

// StatusOf is the HTTP status of an API error answer, or 0 when err is not one.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Signup creates an account (201).
func (c *Client) Signup(ctx context.Context, email, password string) (User, error) {
	var u User
	err := c.Do(ctx, http.MethodPost, "/signup", nil, Credentials{Email: email, Password: password}, &u)
	return u, err
}

// Login asks for an access token. WithToken makes a client that uses it.
func (c *Client) Login(ctx context.Context, email, password string) (Login, error) {
	var l Login
	if err := c.Do(ctx, http.MethodPost, "/login", nil, Credentials{Email: email, Password: password}, &l); err != nil {
		return l, err
	}
	if l.AccessToken == "" {
		return l, fmt.Errorf("login as %s: the answer has no access_token", email)
	}
	return l, nil
}

// SignIn logs in and returns a client signed in as that user.
func (c *Client) SignIn(ctx context.Context, email, password string) (*Client, error) {
	l, err := c.Login(ctx, email, password)
	if err != nil {
		return nil, err
	}
	return c.WithToken(l.AccessToken), nil
}

// Logout asks the server to clear its cookie. Tokens are stateless: the token stays valid until
// it expires, so a caller forgets it too.
func (c *Client) Logout(ctx context.Context) error {
	return c.Do(ctx, http.MethodPost, "/logout", nil, nil, nil)
}

// Me is the signed-in account.
func (c *Client) Me(ctx context.Context) (User, error) {
	var u User
	err := c.Do(ctx, http.MethodGet, "/me", nil, nil, &u)
	return u, err
}

// CreateItem stocks a new item (admin; 409 when the sku exists).
func (c *Client) CreateItem(ctx context.Context, item NewItem) (Item, error) {
	var it Item
	err := c.Do(ctx, http.MethodPost, "/items", nil, item, &it)
	return it, err
}

// UpdateItem changes an item (admin).
func (c *Client) UpdateItem(ctx context.Context, sku string, change ItemUpdate) (Item, error) {
	var it Item
	err := c.Do(ctx, http.MethodPut, "/items/"+url.PathEscape(sku), nil, change, &it)
	return it, err
}

// Items lists every item.
func (c *Client) Items(ctx context.Context) ([]Item, error) {
	var items []Item
	err := c.Do(ctx, http.MethodGet, "/items", nil, nil, &items)
	return items, err
}

// Item reads one item.
func (c *Client) Item(ctx context.Context, sku string) (Item, error) {
	var it Item
	err := c.Do(ctx, http.MethodGet, "/items/"+url.PathEscape(sku), nil, nil, &it)
	return it, err
}

// PlaceOrder places an order (202, status REQUESTED). idempotencyKey, when set, makes a retry
// return the same order.
func (c *Client) PlaceOrder(ctx context.Context, lines []Line, idempotencyKey string) (Order, error) {
	var header http.Header
	if idempotencyKey != "" {
		header = http.Header{"Idempotency-Key": {idempotencyKey}}
	}
	var o Order
	err := c.Do(ctx, http.MethodPost, "/orders", header, NewOrder{Items: lines}, &o)
	return o, err
}

// Order reads one of the caller's orders (another user's is 404).
func (c *Client) Order(ctx context.Context, id string) (Order, error) {
	var o Order
	err := c.Do(ctx, http.MethodGet, "/orders/"+url.PathEscape(id), nil, nil, &o)
	return o, err
}

// Orders lists the caller's orders (everyone's for an admin), newest first, at most limit.
func (c *Client) Orders(ctx context.Context, limit int) ([]Order, error) {
	var orders []Order
	err := c.Do(ctx, http.MethodGet, "/orders?limit="+strconv.Itoa(limit), nil, nil, &orders)
	return orders, err
}

// CancelOrder asks to cancel one of the caller's orders: 202 with the order, which may still be
// REQUESTED while the saga decides; 409 once payment has succeeded or the order is over.
func (c *Client) CancelOrder(ctx context.Context, id string) (Order, error) {
	var o Order
	err := c.Do(ctx, http.MethodPost, "/orders/"+url.PathEscape(id)+"/cancel", nil, nil, &o)
	return o, err
}
