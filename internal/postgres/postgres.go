// Package postgres holds what every function's store shares: connecting a pgx pool to the
// function's own schema, running its embedded migrations, the DBTX interface queries are written
// against, and the translation of driver errors.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Connect opens a pool to databaseURL whose sessions see schema first on their search_path, so
// queries name their tables unqualified and a function's store touches only its own schema.
func Connect(ctx context.Context, databaseURL, schema string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return pool, nil
}

// Migrate applies the goose migrations in fsys (*.sql in its migrations/ folder, the layout
// every package with a schema embeds: //go:embed migrations/*.sql) to the pool's schema,
// recording them in the version table named table, so that independent sets (a function's own
// and the shared inbox's) live side by side in one schema. A session advisory lock keeps replicas
// that start together from migrating at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, table string, fsys fs.FS) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	// One lock per schema: functions sharing a database migrate side by side, while replicas of
	// one function take turns.
	h := fnv.New64a()
	h.Write([]byte(pool.Config().ConnConfig.RuntimeParams["search_path"]))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64()>>1)), lock.WithLockTimeout(1, 120))
	if err != nil {
		return err
	}
	scripts, err := fs.Sub(fsys, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, scripts,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true), goose.WithTableName(table))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", table, err)
	}
	return nil
}

// Driver error codes this project reacts to (PostgreSQL appendix A).
const (
	codeUniqueViolation = "23505"
	codeCheckViolation  = "23514"
)

// IsUniqueViolation reports whether err is a unique or primary key violation.
func IsUniqueViolation(err error) bool { return hasCode(err, codeUniqueViolation) }

// IsCheckViolation reports whether err is a CHECK constraint violation.
func IsCheckViolation(err error) bool { return hasCode(err, codeCheckViolation) }

// IsDataException reports whether err is a PostgreSQL data exception (SQLSTATE class 22:
// invalid encoding, value out of range, invalid text representation): the input is at fault, so
// the same statement fails again on retry.
func IsDataException(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22")
}

func hasCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
