package shipping

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/ordersaga/ordersaga/internal/postgres"
)

// newTrackingID returns "TRK-" and 16 random base32 characters (80 bits): unguessable, so one
// customer cannot enumerate another's parcels, and short enough to read out on the phone.
func newTrackingID() string { return "TRK-" + rand.Text()[:16] }

// store is the shipping schema's queries, run on the event's transaction inside inbox.Process.
type store struct {
	db postgres.DBTX
}

// Ship records orderID's shipment and returns its tracking id; when the order has shipped
// before, it returns the first shipment's tracking id and records nothing. A concurrent first
// shipment of the same order makes the insert wait for it and then do nothing, and the following
// SELECT (a new snapshot under READ COMMITTED) sees its row. A tracking id collision (never, in
// practice) fails the transaction, and the retry draws a new one.
// Errors are the database's (transient).
func (s store) Ship(ctx context.Context, orderID string) (string, error) {
	tracking := newTrackingID()
	tag, err := s.db.Exec(ctx, `INSERT INTO shipments (order_id, tracking_id) VALUES ($1, $2)
		ON CONFLICT (order_id) DO NOTHING`, orderID, tracking)
	if err != nil {
		return "", fmt.Errorf("record shipment: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return tracking, nil
	}
	if err := s.db.QueryRow(ctx, `SELECT tracking_id FROM shipments WHERE order_id = $1`, orderID).Scan(&tracking); err != nil {
		return "", fmt.Errorf("read shipment: %w", err)
	}
	return tracking, nil
}
