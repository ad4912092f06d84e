package main

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

func TestRowLatenciesMeasureEndedOrdersCreatedInTheWindow(t *testing.T) {
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA orders;
		CREATE TABLE orders.orders (status text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	to := from.Add(time.Minute)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	rows := []struct {
		status  string
		created time.Time
		took    time.Duration
	}{
		{"COMPLETED", from, ms(4)},
		{"CANCELLED", from.Add(time.Second), ms(6)},
		{"COMPLETED", from.Add(2 * time.Second), ms(8)},
		{"REQUESTED", from.Add(3 * time.Second), ms(1000)}, // not ended: left out
		{"COMPLETED", from.Add(-time.Second), ms(500)},     // before the window
		{"COMPLETED", to, ms(500)},                         // after it
	}
	for _, r := range rows {
		if _, err := conn.Exec(ctx, `INSERT INTO orders.orders VALUES ($1, $2, $3)`, r.status, r.created, r.created.Add(r.took)); err != nil {
			t.Fatal(err)
		}
	}

	l, n, err := rowLatencies(ctx, db, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || l.P50 != 6 || l.Max != 8 || l.Mean != 6 {
		t.Errorf("measured %d orders, p50 %v, max %v, mean %v; want 3, 6, 8, 6", n, l.P50, l.Max, l.Mean)
	}
}
