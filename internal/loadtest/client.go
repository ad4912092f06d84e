// Package loadtest drives a running ordersaga the way a user does, over the gateway's REST API,
// and watches the broker topic to see when each order reaches its terminal state. The stack's
// end-to-end tests and the benchmark (cmd/ordersaga-bench) share it.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Item is the inventory's item view.
type Item struct {
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Available  int64  `json:"available"`
	Reserved   int64  `json:"reserved"`
	Sold       int64  `json:"sold"`
}

// Line is one line of an order.
type Line struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// Order is the order view.
type Order struct {
	ID                string    `json:"id"`
	UserID            string    `json:"user_id"`
	Status            string    `json:"status"`
	Items             []Line    `json:"items"`
	InventoryReserved bool      `json:"inventory_reserved"`
	TotalCents        int64     `json:"total_cents"`
	CancelReason      string    `json:"cancel_reason"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// Terminal reports whether the order's saga is over.
func (o Order) Terminal() bool { return o.Status == "COMPLETED" || o.Status == "CANCELLED" }

// Client calls the gateway, signed in as one user once Login has run.
type Client struct {
	Base  string
	Token string
	HTTP  *http.Client
}

// NewClient returns an anonymous client of the gateway at base, keeping connections alive for
// up to maxConns requests at once.
func NewClient(base string, maxConns int) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = maxConns
	tr.MaxIdleConnsPerHost = maxConns
	return &Client{Base: base, HTTP: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// StatusError is an unexpected HTTP answer.
type StatusError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

// Do sends body as JSON and decodes the answer into out when the status is want.
func (c *Client) Do(ctx context.Context, method, path string, header http.Header, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return &StatusError{Method: method, Path: path, Status: resp.StatusCode, Body: string(bytes.TrimSpace(data))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// Signup creates a user.
func (c *Client) Signup(ctx context.Context, email, password string) error {
	return c.Do(ctx, http.MethodPost, "/signup", nil, map[string]string{"email": email, "password": password}, http.StatusCreated, nil)
}

// Login returns a client signed in as the user.
func (c *Client) Login(ctx context.Context, email, password string) (*Client, error) {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.Do(ctx, http.MethodPost, "/login", nil, map[string]string{"email": email, "password": password}, http.StatusOK, &out); err != nil {
		return nil, err
	}
	if out.AccessToken == "" {
		return nil, fmt.Errorf("login as %s: no access_token", email)
	}
	return &Client{Base: c.Base, Token: out.AccessToken, HTTP: c.HTTP}, nil
}

// CreateItem stocks a new item (admin only).
func (c *Client) CreateItem(ctx context.Context, sku, name string, priceCents, quantity int64) error {
	body := map[string]any{"sku": sku, "name": name, "price_cents": priceCents, "quantity": quantity}
	return c.Do(ctx, http.MethodPost, "/items", nil, body, http.StatusCreated, nil)
}

// Items lists every item.
func (c *Client) Items(ctx context.Context) ([]Item, error) {
	var items []Item
	return items, c.Do(ctx, http.MethodGet, "/items", nil, nil, http.StatusOK, &items)
}

// PlaceOrder places an order (202); key, when set, is its Idempotency-Key.
func (c *Client) PlaceOrder(ctx context.Context, lines []Line, key string) (Order, error) {
	var o Order
	h := http.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	err := c.Do(ctx, http.MethodPost, "/orders", h, map[string]any{"items": lines}, http.StatusAccepted, &o)
	return o, err
}

// Orders lists the caller's orders (everyone's for an admin), newest first, at most limit.
func (c *Client) Orders(ctx context.Context, limit int) ([]Order, error) {
	var os []Order
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	return os, c.Do(ctx, http.MethodGet, "/orders?"+q.Encode(), nil, nil, http.StatusOK, &os)
}

// Order reads one order.
func (c *Client) Order(ctx context.Context, id string) (Order, error) {
	var o Order
	return o, c.Do(ctx, http.MethodGet, "/orders/"+url.PathEscape(id), nil, nil, http.StatusOK, &o)
}
