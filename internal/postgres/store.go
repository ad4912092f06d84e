package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DBTX is what a store is written against: a pool and a transaction both satisfy it, so the same
// store runs its queries inside or outside a transaction, and InTx can open one (a transaction
// inside a transaction is a savepoint).
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx runs fn in a transaction on db: committed when fn returns nil, rolled back otherwise.
// Errors: fn's, or the database's.
func InTx(ctx context.Context, db DBTX, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db, fn)
}

// QueryOne runs sql and maps its first row into a T by column name (the fields' db tags). This
// is where a missing row is translated, so pgx.ErrNoRows never leaves a store. Errors: notFound
// (an apperr NotFound, named by the caller) when there is no row, or pgx.ErrNoRows when notFound
// is nil (a statement that always returns a row); the query's otherwise.
func QueryOne[T any](ctx context.Context, db DBTX, notFound error, sql string, args ...any) (T, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		var none T
		return none, err
	}
	v, err := pgx.CollectOneRow(rows, pgx.RowToStructByName[T])
	if errors.Is(err, pgx.ErrNoRows) && notFound != nil {
		return v, notFound
	}
	return v, err
}

// QueryAll runs sql and maps every row into a T by column name (the fields' db tags); no row is
// an empty slice, never nil. Errors: the query's.
func QueryAll[T any](ctx context.Context, db DBTX, sql string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	all, err := pgx.CollectRows(rows, pgx.RowToStructByName[T])
	if all == nil && err == nil {
		all = []T{}
	}
	return all, err
}
