package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Statement is one SQL statement with its arguments, run for its command tag (Exec).
type Statement struct {
	SQL  string
	Args []any
}

// ErrNestedTx is Begin's error inside InPipelinedTx: its transaction has no savepoints.
var ErrNestedTx = errors.New("postgres: a pipelined transaction cannot open a nested one")

// InPipelinedTx runs fn in a transaction that costs two round trips fewer than InTx's: BEGIN is
// sent together with first (one round trip), and COMMIT together with the statements fn returns
// (another), as pipelined batches. It is made for the saga's hot path, where every event is a
// claim, an effect and a stored reply: the claim goes with BEGIN, the reply with COMMIT.
//
// fn gets first's command tag and the open transaction as a DBTX (its Begin returns
// ErrNestedTx). Statements given to ExecAtCommit on it are sent with COMMIT, before fn's last.
// Everything is rolled back when first, fn or a last statement fails; a connection that cannot
// even roll back is not reused (the pool drops any connection left in a transaction). Only a
// pool's connections are pipelined: on a transaction (a store running inside one), it is InTx's
// savepoint, one statement at a time. Errors: first's, fn's or a last statement's,
// pgx.ErrTxCommitRollback, or the database's.
func InPipelinedTx(ctx context.Context, db DBTX, first Statement,
	fn func(tx DBTX, first pgconn.CommandTag) (last []Statement, err error)) error {
	pool, ok := db.(*pgxpool.Pool)
	if !ok {
		return inNestedTx(ctx, db, first, fn)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	err = runPipelined(ctx, conn, first, fn)
	if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
		if _, rbErr := conn.Exec(ctx, "ROLLBACK"); rbErr != nil {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
	}
	return err
}

// runPipelined is InPipelinedTx on conn, leaving the rollback of a failure to its caller.
func runPipelined(ctx context.Context, conn *pgxpool.Conn, first Statement, fn func(DBTX, pgconn.CommandTag) ([]Statement, error)) error {
	var begin pgx.Batch
	begin.Queue("BEGIN")
	begin.Queue(first.SQL, first.Args...)
	tags, err := execBatch(ctx, conn, &begin)
	if err != nil {
		return err
	}
	tx := &pipelinedTx{conn: conn}
	last, err := fn(tx, tags[1])
	if err != nil {
		return err
	}
	var commit pgx.Batch
	for _, s := range append(tx.atCommit, last...) {
		commit.Queue(s.SQL, s.Args...)
	}
	commit.Queue("COMMIT")
	if tags, err = execBatch(ctx, conn, &commit); err != nil {
		return err
	}
	if tags[len(tags)-1].String() == "ROLLBACK" { // the server ended a failed transaction
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// inNestedTx is InPipelinedTx on db, which is not a pool: statement by statement, in InTx.
func inNestedTx(ctx context.Context, db DBTX, first Statement, fn func(DBTX, pgconn.CommandTag) ([]Statement, error)) error {
	return InTx(ctx, db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, first.SQL, first.Args...)
		if err != nil {
			return err
		}
		last, err := fn(tx, tag)
		if err != nil {
			return err
		}
		for _, s := range last {
			if _, err := tx.Exec(ctx, s.SQL, s.Args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// execBatch sends b in one round trip and returns each statement's command tag. Errors: the
// first statement's that failed (the server skips the rest).
func execBatch(ctx context.Context, conn *pgxpool.Conn, b *pgx.Batch) ([]pgconn.CommandTag, error) {
	results := conn.SendBatch(ctx, b)
	tags := make([]pgconn.CommandTag, 0, b.Len())
	var err error
	for range b.Len() {
		var tag pgconn.CommandTag
		if tag, err = results.Exec(); err != nil {
			break
		}
		tags = append(tags, tag)
	}
	if closeErr := results.Close(); err == nil {
		err = closeErr
	}
	return tags, err
}

// ExecAtCommit runs a write whose result its caller does not need: with the COMMIT of db, in
// the same round trip, when db is InPipelinedTx's transaction; at once otherwise. Either way it
// is part of the transaction: if it fails, nothing commits. Statements that follow it in the
// transaction do not see its effect when it waits for the COMMIT, so use it for a transaction's
// last write to a row. Errors: the statement's, when it runs at once.
func ExecAtCommit(ctx context.Context, db DBTX, sql string, args ...any) error {
	if tx, ok := db.(*pipelinedTx); ok {
		tx.atCommit = append(tx.atCommit, Statement{SQL: sql, Args: args})
		return nil
	}
	_, err := db.Exec(ctx, sql, args...)
	return err
}

// pipelinedTx is InPipelinedTx's open transaction, as a DBTX: the connection it runs on, and the
// statements that wait for its COMMIT.
type pipelinedTx struct {
	conn     *pgxpool.Conn
	atCommit []Statement
}

func (tx *pipelinedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return tx.conn.Exec(ctx, sql, args...)
}

func (tx *pipelinedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return tx.conn.Query(ctx, sql, args...)
}

func (tx *pipelinedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return tx.conn.QueryRow(ctx, sql, args...)
}

func (*pipelinedTx) Begin(context.Context) (pgx.Tx, error) { return nil, ErrNestedTx }
