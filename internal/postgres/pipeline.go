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
	// What the statement does ("store the reply"), prefixed to its error when it fails in a
	// batch, where the caller's own wrapping cannot reach it.
	What string
}

// ErrNestedTx is Begin's error inside InPipelinedTx: its transaction has no savepoints.
var ErrNestedTx = errors.New("postgres: a pipelined transaction cannot open a nested one")

// InPipelinedTx runs fn in a transaction that costs two round trips fewer than InTx's: BEGIN and
// first are sent together with the first statement fn runs (one round trip), and COMMIT together
// with the statements fn returns (another), as pipelined batches. It is made for the saga's hot
// path, where every event is a claim, an effect and a stored reply: the claim goes with BEGIN and
// the effect's first read or write, the reply with COMMIT.
//
// check, when not nil, decides from first's command tag whether the transaction goes on (the
// claim was new, say). Since fn's first statement travels with first, it runs before check has
// seen the tag; when check refuses, or first fails, that statement's call returns the error,
// nothing of the transaction is kept, and InPipelinedTx returns that error whatever fn made of it.
// A refusal is therefore only ever check's own error, not a state to handle inside fn.
//
// fn gets the open transaction as a DBTX (its Begin returns ErrNestedTx). Statements given to
// ExecAtCommit on it are sent with COMMIT, before fn's last. Everything is rolled back when
// first, check, fn or a last statement fails; a connection that cannot even roll back is not
// reused (the pool drops any connection left in a transaction). Only a pool's connections are
// pipelined: on a transaction (a store running inside one), it is InTx's savepoint, one statement
// at a time. Errors: first's, check's, fn's or a last statement's, pgx.ErrTxCommitRollback, or
// the database's.
func InPipelinedTx(ctx context.Context, db DBTX, first Statement, check func(pgconn.CommandTag) error,
	fn func(tx DBTX) (last []Statement, err error)) error {
	pool, ok := db.(*pgxpool.Pool)
	if !ok {
		return inNestedTx(ctx, db, first, check, fn)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	err = runPipelined(ctx, &pipelinedTx{conn: conn, first: first, check: check}, fn)
	if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
		if _, rbErr := conn.Exec(ctx, "ROLLBACK"); rbErr != nil {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
	}
	return err
}

// runPipelined is InPipelinedTx on tx's connection, leaving the rollback of a failure to its
// caller.
func runPipelined(ctx context.Context, tx *pipelinedTx, fn func(DBTX) ([]Statement, error)) error {
	last, err := fn(tx)
	if tx.openErr != nil {
		return tx.openErr // first's or check's, even if fn went on regardless
	}
	if err != nil {
		return err
	}
	if !tx.opened { // fn ran no statement: BEGIN and first go alone
		results, err := tx.open(ctx, "", nil)
		if err != nil {
			return err
		}
		if err := results.Close(); err != nil {
			return err
		}
	}
	commit := append(append(tx.atCommit, last...), Statement{SQL: "COMMIT", What: "commit"})
	tags, err := execBatch(ctx, tx.conn, commit)
	if err != nil {
		return err
	}
	if tags[len(tags)-1].String() == "ROLLBACK" { // the server ended a failed transaction
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// inNestedTx is InPipelinedTx on db, which is not a pool: statement by statement, in InTx.
func inNestedTx(ctx context.Context, db DBTX, first Statement, check func(pgconn.CommandTag) error, fn func(DBTX) ([]Statement, error)) error {
	return InTx(ctx, db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, first.SQL, first.Args...)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(tag); err != nil {
				return err
			}
		}
		last, err := fn(tx)
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

// execBatch sends statements in one round trip and returns each one's command tag. Errors: the
// first failing statement's, after its What (the server skips the rest).
func execBatch(ctx context.Context, conn *pgxpool.Conn, statements []Statement) ([]pgconn.CommandTag, error) {
	var b pgx.Batch
	for _, s := range statements {
		b.Queue(s.SQL, s.Args...)
	}
	results := conn.SendBatch(ctx, &b)
	tags := make([]pgconn.CommandTag, 0, len(statements))
	var err error
	for _, s := range statements {
		var tag pgconn.CommandTag
		if tag, err = results.Exec(); err != nil {
			if s.What != "" {
				err = fmt.Errorf("%s: %w", s.What, err)
			}
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
// is part of the transaction: if it fails, nothing commits, and its error reads "what: cause"
// whenever it comes. Statements that follow it in the transaction do not see its effect when it
// waits for the COMMIT, so use it for a transaction's last write to a row. Errors: the
// statement's, when it runs at once.
func ExecAtCommit(ctx context.Context, db DBTX, what, sql string, args ...any) error {
	if tx, ok := db.(*pipelinedTx); ok {
		tx.atCommit = append(tx.atCommit, Statement{SQL: sql, Args: args, What: what})
		return nil
	}
	if _, err := db.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// pipelinedTx is InPipelinedTx's transaction, as a DBTX: the connection it runs on, how it
// opens (first and check), and the statements that wait for its COMMIT. Until its first
// statement, nothing has been sent: that statement opens it (open).
type pipelinedTx struct {
	conn     *pgxpool.Conn
	first    Statement
	check    func(pgconn.CommandTag) error
	opened   bool
	openErr  error // first's or check's error: the transaction cannot go on
	atCommit []Statement
}

// open sends BEGIN, first and, unless sql is empty, the statement sql in one batch, applies check
// to first's tag and returns the batch's results at sql's. Errors: BEGIN's, first's or check's,
// also kept in openErr.
func (tx *pipelinedTx) open(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	tx.opened = true
	var b pgx.Batch
	b.Queue("BEGIN")
	b.Queue(tx.first.SQL, tx.first.Args...)
	if sql != "" {
		b.Queue(sql, args...)
	}
	results := tx.conn.SendBatch(ctx, &b)
	_, err := results.Exec()
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = results.Exec()
	}
	if err == nil && tx.check != nil {
		err = tx.check(tag)
	}
	if err != nil {
		results.Close() // what sql did no longer matters: the transaction rolls back
		tx.openErr = err
		return nil, err
	}
	return results, nil
}

func (tx *pipelinedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if tx.opened {
		return tx.conn.Exec(ctx, sql, args...)
	}
	results, err := tx.open(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := results.Exec()
	if closeErr := results.Close(); err == nil {
		err = closeErr
	}
	return tag, err
}

func (tx *pipelinedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if tx.opened {
		return tx.conn.Query(ctx, sql, args...)
	}
	results, err := tx.open(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := results.Query()
	if err != nil {
		results.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, results: results}, nil
}

func (tx *pipelinedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if tx.opened {
		return tx.conn.QueryRow(ctx, sql, args...)
	}
	rows, err := tx.Query(ctx, sql, args...)
	return firstRow{rows: rows, err: err}
}

func (*pipelinedTx) Begin(context.Context) (pgx.Tx, error) { return nil, ErrNestedTx }

// batchRows are the rows of the last statement of a batch: closing them, or reading past the
// last, closes the batch too, so that the connection is free for the next statement.
type batchRows struct {
	pgx.Rows
	results  pgx.BatchResults
	closed   bool
	closeErr error
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.closeErr = r.results.Close()
	}
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.closeErr
}

// firstRow is QueryRow's answer made of rows, as pgx makes it: the first row scanned, the rest
// ignored, pgx.ErrNoRows when there is none.
type firstRow struct {
	rows pgx.Rows
	err  error
}

func (r firstRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}
