package function

import (
	"context"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga/internal/inbox"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// OpenDatabase connects to the function's schema and brings it up to date: the shared inbox
// table, then the function's own migrations (fsys embeds them as migrations/*.sql).
func OpenDatabase(ctx context.Context, databaseURL, schema string, fsys fs.FS) (*pgxpool.Pool, error) {
	pool, err := postgres.Connect(ctx, databaseURL, schema)
	if err != nil {
		return nil, err
	}
	if err := inbox.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	if err := postgres.Migrate(ctx, pool, "migrations", fsys); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}
