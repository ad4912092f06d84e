package events

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Each payload is version 1 of its schema. A breaking change gets a new version: a new DataSchema
// URI, decoded side by side with the old one until every producer has moved.

// Line is one line of an order: a stock-keeping unit and how many of it.
type Line struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// OrderRequestedV1 starts the saga; inventory reserves its lines.
type OrderRequestedV1 struct {
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Items   []Line `json:"items"`
}

// InventoryReservedV1 says every line is reserved; the total is priced by inventory, so payment
// charges what inventory reserved.
type InventoryReservedV1 struct {
	OrderID    string `json:"order_id"`
	UserID     string `json:"user_id"`
	Items      []Line `json:"items"`
	TotalCents int64  `json:"total_cents"`
}

// Reasons an order does not go through: inventory's for not reserving, and payment's for
// declining.
const (
	ReasonUnknownSKU      = "unknown_sku"
	ReasonInsufficient    = "insufficient_stock"
	ReasonOrderCancelled  = "order_cancelled"
	ReasonPaymentDeclined = "payment_declined"
	// ReasonCancelled is payment's reason for a void: the order asked to be cancelled before it
	// was charged, so it never will be.
	ReasonCancelled = "cancelled"
)

// Reasons an order asks to be cancelled (ORDER_CANCEL_REQUESTED).
const (
	ReasonTimeout             = "timeout"
	ReasonCancelledByCustomer = "cancelled_by_customer"
)

// InventoryNotReservedV1 says nothing was reserved, and why.
type InventoryNotReservedV1 struct {
	OrderID string `json:"order_id"`
	Reason  string `json:"reason"`
	SKU     string `json:"sku,omitempty"`
}

// TransactionCompletedV1 says the amount was charged.
type TransactionCompletedV1 struct {
	OrderID       string `json:"order_id"`
	TransactionID string `json:"transaction_id"`
	AmountCents   int64  `json:"amount_cents"`
}

// TransactionFailedV1 says the charge was declined.
type TransactionFailedV1 struct {
	OrderID       string `json:"order_id"`
	TransactionID string `json:"transaction_id"`
	AmountCents   int64  `json:"amount_cents"`
	Reason        string `json:"reason"`
}

// OrderAcceptedV1 says the order is paid for and may be shipped.
type OrderAcceptedV1 struct {
	OrderID    string `json:"order_id"`
	UserID     string `json:"user_id"`
	Items      []Line `json:"items"`
	TotalCents int64  `json:"total_cents"`
}

// OrderShippedV1 says the order left the warehouse.
type OrderShippedV1 struct {
	OrderID    string `json:"order_id"`
	TrackingID string `json:"tracking_id"`
}

// OrderCompletedV1 says the order is done; inventory turns its reservation into a sale.
type OrderCompletedV1 struct {
	OrderID string `json:"order_id"`
	Items   []Line `json:"items"`
}

// OrderCancelledV1 says the order is cancelled. It is built from the order's stored state and
// carries its lines, so inventory can release stock without asking anyone (the original
// implementation sent it empty after a failed payment, and stock leaked).
type OrderCancelledV1 struct {
	OrderID string `json:"order_id"`
	Items   []Line `json:"items"`
	Reason  string `json:"reason"`
}

// OrderCancelRequestedV1 asks payment to void the order's charge (an extension, docs/SAGA.md).
// Payment answers with the order's transaction: TRANSACTION_COMPLETED when it was charged already
// (the order is then approved, never cancelled), otherwise TRANSACTION_FAILED with reason
// "cancelled", after which payment never charges it.
type OrderCancelRequestedV1 struct {
	OrderID    string `json:"order_id"`
	Reason     string `json:"reason"`
	TotalCents int64  `json:"total_cents"`
}

// Payload is implemented by every event payload.
type Payload interface {
	// EventType is the CloudEvents type this payload travels as.
	EventType() Type
	// Order is the order id: the event's subject and partition key.
	Order() string
	// Validate reports the first missing or malformed field.
	Validate() error
}

func (OrderRequestedV1) EventType() Type       { return OrderRequested }
func (InventoryReservedV1) EventType() Type    { return InventoryReserved }
func (InventoryNotReservedV1) EventType() Type { return InventoryNotReserved }
func (TransactionCompletedV1) EventType() Type { return TransactionCompleted }
func (TransactionFailedV1) EventType() Type    { return TransactionFailed }
func (OrderAcceptedV1) EventType() Type        { return OrderAccepted }
func (OrderShippedV1) EventType() Type         { return OrderShipped }
func (OrderCompletedV1) EventType() Type       { return OrderCompleted }
func (OrderCancelledV1) EventType() Type       { return OrderCancelled }
func (OrderCancelRequestedV1) EventType() Type { return OrderCancelRequested }

func (p OrderRequestedV1) Order() string       { return p.OrderID }
func (p InventoryReservedV1) Order() string    { return p.OrderID }
func (p InventoryNotReservedV1) Order() string { return p.OrderID }
func (p TransactionCompletedV1) Order() string { return p.OrderID }
func (p TransactionFailedV1) Order() string    { return p.OrderID }
func (p OrderAcceptedV1) Order() string        { return p.OrderID }
func (p OrderShippedV1) Order() string         { return p.OrderID }
func (p OrderCompletedV1) Order() string       { return p.OrderID }
func (p OrderCancelledV1) Order() string       { return p.OrderID }
func (p OrderCancelRequestedV1) Order() string { return p.OrderID }

// Limits that keep one event small enough for a Kafka record and a database row.
const (
	MaxLines    = 100
	MaxQuantity = 1_000_000
)

var skuPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidSKU reports whether s is a well-formed stock-keeping unit: 1-64 letters, digits, '.', '_'
// or '-', starting with a letter or digit.
func ValidSKU(s string) bool { return skuPattern.MatchString(s) }

// LineError is what is wrong with one line of an order; Index is the line's position, so a tool
// can point at what its user typed (the CLI's --item flags).
type LineError struct {
	Index int
	// Err names the field: "quantity: must be between 1 and 1000000".
	Err error
}

func (e *LineError) Error() string { return fmt.Sprintf("items[%d].%v", e.Index, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ValidateLines checks an order's lines: 1..MaxLines of them, each a valid sku with a quantity in
// 1..MaxQuantity, no sku twice. A problem with one line is a *LineError.
func ValidateLines(lines []Line) error {
	if len(lines) == 0 {
		return errors.New("items: at least one line is required")
	}
	if len(lines) > MaxLines {
		return fmt.Errorf("items: at most %d lines", MaxLines)
	}
	seen := make(map[string]bool, len(lines))
	for i, l := range lines {
		if !ValidSKU(l.SKU) {
			return &LineError{i, errors.New("sku: not a valid sku (1-64 letters, digits, '.', '_' or '-')")}
		}
		if l.Quantity < 1 || l.Quantity > MaxQuantity {
			return &LineError{i, fmt.Errorf("quantity: must be between 1 and %d", MaxQuantity)}
		}
		if seen[l.SKU] {
			return &LineError{i, fmt.Errorf("sku: %s appears twice", l.SKU)}
		}
		seen[l.SKU] = true
	}
	return nil
}

func required(name, value string) error {
	if value == "" {
		return fmt.Errorf("%s is required", name)
	}
	if len(value) > 200 {
		return fmt.Errorf("%s is longer than 200 characters", name)
	}
	return ValidText(name, value)
}

// identifier is required for an id: also without surrounding white space, which the CloudEvents
// subject cannot carry (found by FuzzDecode: " 0" made an event its receiver refused).
func identifier(name, value string) error {
	if err := required(name, value); err != nil {
		return err
	}
	if strings.TrimSpace(value) != value {
		return fmt.Errorf("%s has leading or trailing white space", name)
	}
	return nil
}

// ValidText reports an error when value is not text PostgreSQL can store: invalid UTF-8 or a
// NUL byte. Such an event can never be handled, so it must be refused as invalid (400) rather
// than fail in the database (500, retried forever).
func ValidText(name, value string) error {
	if !utf8.ValidString(value) || strings.ContainsRune(value, 0) {
		return fmt.Errorf("%s is not valid UTF-8 text", name)
	}
	return nil
}

func nonNegative(name string, v int64) error {
	if v < 0 {
		return fmt.Errorf("%s must not be negative", name)
	}
	return nil
}

func (p OrderRequestedV1) Validate() error {
	return errors.Join(identifier("order_id", p.OrderID), identifier("user_id", p.UserID), ValidateLines(p.Items))
}

func (p InventoryReservedV1) Validate() error {
	return errors.Join(identifier("order_id", p.OrderID), identifier("user_id", p.UserID),
		ValidateLines(p.Items), nonNegative("total_cents", p.TotalCents))
}

func (p InventoryNotReservedV1) Validate() error {
	var sku error
	if p.SKU != "" && !ValidSKU(p.SKU) { // unchecked, it was unbounded and could re-encode past MaxDataBytes
		sku = errors.New("sku: not a valid sku")
	}
	return errors.Join(identifier("order_id", p.OrderID), required("reason", p.Reason), sku)
}

func (p TransactionCompletedV1) Validate() error {
	return errors.Join(identifier("order_id", p.OrderID), identifier("transaction_id", p.TransactionID),
		nonNegative("amount_cents", p.AmountCents))
}

func (p TransactionFailedV1) Validate() error {
	return errors.Join(identifier("order_id", p.OrderID), identifier("transaction_id", p.TransactionID),
		nonNegative("amount_cents", p.AmountCents), required("reason", p.Reason))
}

func (p OrderAcceptedV1) Validate() error {
	return errors.Join(identifier("order_id", p.OrderID), identifier("user_id", p.UserID),
		ValidateLines(p.Items), nonNegative("total_cents", p.TotalCents))
}

func (p OrderShippedV1) Validate() error {
	return errors.Join(identifier("order_id", p.OrderID), identifier("tracking_id", p.TrackingID))
}

func (p OrderCompletedV1) Validate() error {
	return errors.Join(identifier("order_id", p.OrderID), ValidateLines(p.Items))
}

func (p OrderCancelledV1) Validate() error {
	return errors.Join(identifier("order_id", p.OrderID), ValidateLines(p.Items), required("reason", p.Reason))
}

func (p OrderCancelRequestedV1) Validate() error {
	return errors.Join(identifier("order_id", p.OrderID), required("reason", p.Reason), nonNegative("total_cents", p.TotalCents))
}
