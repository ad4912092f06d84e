package client

import "time"

// The views of the REST contract. Field names are the contract's JSON names (snake_case), so
// these types are what the functions send and what outside clients may rely on.

// Credentials are the body of POST /signup and POST /login.
type Credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// User is the user view: POST /signup and GET /me.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

// Login is the answer of POST /login: a bearer token and when it expires.
type Login struct {
	AccessToken string    `json:"access_token"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// NewItem is the body of POST /items. Quantity is the stock on hand.
type NewItem struct {
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Quantity   int64  `json:"quantity"`
}

// ItemUpdate is the body of PUT /items/{sku}: only the fields that are set change. Quantity
// sets the stock on hand (available).
type ItemUpdate struct {
	Name       *string `json:"name,omitempty"`
	PriceCents *int64  `json:"price_cents,omitempty"`
	Quantity   *int64  `json:"quantity,omitempty"`
}

// Item is the item view: its price and where its stock is.
type Item struct {
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Available  int64  `json:"available"`
	Reserved   int64  `json:"reserved"`
	Sold       int64  `json:"sold"`
}

// Line is one line of an order: a sku and how many of it.
type Line struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// NewOrder is the body of POST /orders.
type NewOrder struct {
	Items []Line `json:"items"`
}

// Order statuses: REQUESTED, then APPROVED and COMPLETED, or CANCELLED.
const (
	StatusRequested = "REQUESTED"
	StatusApproved  = "APPROVED"
	StatusCompleted = "COMPLETED"
	StatusCancelled = "CANCELLED"
)

// Statuses lists every order status, in the order an order goes through them.
var Statuses = []string{StatusRequested, StatusApproved, StatusCompleted, StatusCancelled}

// Order is the order view. TotalCents is 0 until inventory has priced the order; CancelReason
// and TrackingID are set once known.
type Order struct {
	ID                string    `json:"id"`
	UserID            string    `json:"user_id"`
	Status            string    `json:"status"`
	Items             []Line    `json:"items"`
	InventoryReserved bool      `json:"inventory_reserved"`
	TotalCents        int64     `json:"total_cents"`
	CancelReason      string    `json:"cancel_reason,omitempty"`
	TrackingID        string    `json:"tracking_id,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// Terminal reports whether the order's saga is over: COMPLETED or CANCELLED.
func (o Order) Terminal() bool { return Terminal(o.Status) }

// Terminal reports whether status is final.
func Terminal(status string) bool { return status == StatusCompleted || status == StatusCancelled }
