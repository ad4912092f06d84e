package inventory

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/events"
)

// Limits of what an item may hold.
const (
	// MaxNameRunes bounds an item's name.
	MaxNameRunes = 200
	// MaxPriceCents bounds a price so that an order's total (at most events.MaxLines lines of
	// events.MaxQuantity units each) always fits in an int64: 1e10 * 1e6 * 100 = 1e18 < 9.2e18.
	MaxPriceCents = 10_000_000_000
)

// Item is one stock-keeping unit and where its units are: on the shelf (available), promised to
// an order that is not finished (reserved), or gone (sold).
type Item struct {
	SKU        string `json:"sku" db:"sku"`
	Name       string `json:"name" db:"name"`
	PriceCents int64  `json:"price_cents" db:"price_cents"`
	Available  int64  `json:"available" db:"available"`
	Reserved   int64  `json:"reserved" db:"reserved"`
	Sold       int64  `json:"sold" db:"sold"`
}

// NewItem is a request to stock a new item (POST /items). The fields are pointers so that a
// missing field is told apart from a zero one: every field is required.
type NewItem struct {
	SKU        *string `json:"sku"`
	Name       *string `json:"name"`
	PriceCents *int64  `json:"price_cents"`
	Quantity   *int64  `json:"quantity"`
}

// Validate reports the first missing or malformed field. Errors: Invalid.
func (n NewItem) Validate() error {
	switch {
	case n.SKU == nil:
		return apperr.Errorf(apperr.Invalid, "sku is required")
	case !events.ValidSKU(*n.SKU):
		return apperr.Errorf(apperr.Invalid, "sku must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	case n.Name == nil:
		return apperr.Errorf(apperr.Invalid, "name is required")
	case n.PriceCents == nil:
		return apperr.Errorf(apperr.Invalid, "price_cents is required")
	case n.Quantity == nil:
		return apperr.Errorf(apperr.Invalid, "quantity is required")
	}
	return ItemUpdate{Name: n.Name, PriceCents: n.PriceCents, Quantity: n.Quantity}.validateFields()
}

// ItemUpdate is a change to an item (PUT /items/{sku}); absent fields stay as they are. Quantity
// is the new number of units available (on the shelf): reserved and sold units are not touched,
// so counting the shelf never cancels a reservation or unsells anything.
type ItemUpdate struct {
	Name       *string `json:"name"`
	PriceCents *int64  `json:"price_cents"`
	Quantity   *int64  `json:"quantity"`
}

// Validate reports the first malformed field, or that there is nothing to change. Errors: Invalid.
func (u ItemUpdate) Validate() error {
	if u.Name == nil && u.PriceCents == nil && u.Quantity == nil {
		return apperr.Errorf(apperr.Invalid, "nothing to update: give name, price_cents or quantity")
	}
	return u.validateFields()
}

func (u ItemUpdate) validateFields() error {
	if u.Name != nil {
		if err := validateName(*u.Name); err != nil {
			return err
		}
	}
	if u.PriceCents != nil && (*u.PriceCents < 0 || *u.PriceCents > MaxPriceCents) {
		return apperr.Errorf(apperr.Invalid, "price_cents must be between 0 and %d", int64(MaxPriceCents))
	}
	if u.Quantity != nil && (*u.Quantity < 0 || *u.Quantity > events.MaxQuantity) {
		return apperr.Errorf(apperr.Invalid, "quantity must be between 0 and %d", events.MaxQuantity)
	}
	return nil
}

// validateName accepts 1..MaxNameRunes characters of printable text. Control characters are
// refused because PostgreSQL text cannot hold NUL, and the others only hurt whoever displays it.
func validateName(name string) error {
	if strings.TrimSpace(name) == "" {
		return apperr.Errorf(apperr.Invalid, "name is required")
	}
	if utf8.RuneCountInString(name) > MaxNameRunes {
		return apperr.Errorf(apperr.Invalid, "name is longer than %d characters", MaxNameRunes)
	}
	if !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return apperr.Errorf(apperr.Invalid, "name must be printable text")
	}
	return nil
}

// Status is where an order's reservation stands.
type Status string

const (
	// Reserved: every line is taken from available into reserved.
	Reserved Status = "RESERVED"
	// Released: the order was cancelled and its units went back to available.
	Released Status = "RELEASED"
	// Sold: the order completed and its units moved from reserved to sold.
	Sold Status = "SOLD"
	// Rejected: the order asked for an unknown sku or more than was available; nothing was taken.
	Rejected Status = "REJECTED"
	// Cancelled: a tombstone for an order cancelled before its ORDER_REQUESTED arrived, so that
	// the late request is refused instead of reserving stock nobody will release.
	Cancelled Status = "CANCELLED"
)

// Reservation is inventory's record of one order.
type Reservation struct {
	OrderID    string `db:"order_id"`
	UserID     string `db:"user_id"`
	Status     Status `db:"status"`
	Reason     string `db:"reason"` // why it was rejected or cancelled
	SKU        string `db:"sku"`    // the sku that made it rejected, if one did
	TotalCents int64  `db:"total_cents"`
}
