package function

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga/internal/inbox"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// Database is the part of a function that every function with a database shares: a pool on the
// function's own schema, migrated. Embedded in a function, it makes the function a Readier, a
// Closer and a Maintainer (inbox pruning), so none of them writes those again.
type Database struct {
	// Pool connects as the function's role; its search_path is the function's schema.
	Pool *pgxpool.Pool
}

// OpenDatabase connects to the function's schema and brings it up to date: the shared inbox
// table, then the function's own migrations (fsys embeds them as migrations/*.sql). Errors:
// databaseURL empty, or the connection's or a migration's.
func OpenDatabase(ctx context.Context, databaseURL, schema string, fsys fs.FS) (Database, error) {
	if databaseURL == "" {
		return Database{}, errors.New("DATABASE_URL is required")
	}
	pool, err := postgres.Connect(ctx, databaseURL, schema)
	if err != nil {
		return Database{}, err
	}
	if err := inbox.Migrate(ctx, pool); err != nil {
		pool.Close()
		return Database{}, err
	}
	if err := postgres.Migrate(ctx, pool, "migrations", fsys); err != nil {
		pool.Close()
		return Database{}, err
	}
	return Database{Pool: pool}, nil
}

// Ready reports whether the database answers. Errors: the ping's, which names hosts and roles.
func (d Database) Ready(ctx context.Context) error {
	if err := d.Pool.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	return nil
}

// Close closes the pool.
func (d Database) Close() { d.Pool.Close() }

// Maintain prunes the inbox hourly until ctx ends (see Maintainer).
func (d Database) Maintain(ctx context.Context) {
	inbox.PruneEvery(ctx, d.Pool, time.Hour, inbox.Retention)
}
