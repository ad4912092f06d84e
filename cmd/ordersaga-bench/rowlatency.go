package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/loadtest"
)

// rowLatencies measures the orders created in [from, to) the way the peer measures its own:
// from the order row's created_at to the updated_at of its terminal transition, both the order
// function's clock, over the orders that ended (COMPLETED or CANCELLED). It leaves out what
// the bench's own figure adds: the 202's way back to the client, and the terminal event's commit,
// reply and Kafka hop to the watcher. It returns how many orders it measured.
func rowLatencies(ctx context.Context, db string, from, to time.Time) (loadtest.Latencies, int, error) {
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return loadtest.Latencies{}, 0, err
	}
	defer conn.Close(ctx)
	var l loadtest.Latencies
	var n int
	err = conn.QueryRow(ctx, `
		SELECT count(*),
			coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), 0),
			coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms), 0),
			coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), 0),
			coalesce(max(ms), 0), coalesce(avg(ms), 0)
		FROM (SELECT extract(epoch FROM updated_at - created_at)::float8 * 1000 AS ms FROM orders.orders
			WHERE created_at >= $1 AND created_at < $2 AND status IN ('COMPLETED', 'CANCELLED')) ended`,
		from, to).Scan(&n, &l.P50, &l.P95, &l.P99, &l.Max, &l.Mean)
	for _, v := range []*float64{&l.P50, &l.P95, &l.P99, &l.Max, &l.Mean} {
		*v = loadtest.Round(*v, 2)
	}
	return l, n, err
}
