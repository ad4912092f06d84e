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
// ErrNestedTx). Everything is rolled back when first, fn or a last statement fails; a connection
// that cannot even roll back is not reused (the pool drops any connection left in a
// transaction). Errors: first's, fn's or a last statement's, pgx.ErrTxCommitRollback, or the
// database's.
func InPipelinedTx(ctx context.Context, pool *pgxpool.Pool, first Statement,
	fn func(tx DBTX, first pgconn.CommandTag) (last []Statement, err error)) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()

	var begin pgx.Batch
	begin.Queue("BEGIN")
	begin.Queue(first.SQL, first.Args...)
	tags, err := execBatch(ctx, conn, &begin)
	if err == nil {
		var last []Statement
		if last, err = fn(pipelinedTx{conn}, tags[1]); err == nil {
			var commit pgx.Batch
			for _, s := range last {
				commit.Queue(s.SQL, s.Args...)
			}
			commit.Queue("COMMIT")
			if tags, err = execBatch(ctx, conn, &commit); err == nil {
				if tags[len(tags)-1].String() == "ROLLBACK" {
					return pgx.ErrTxCommitRollback
				}
				return nil
			}
		}
	}
	if conn.Conn().PgConn().TxStatus() != 'I' {
		if _, rbErr := conn.Exec(ctx, "ROLLBACK"); rbErr != nil {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
	}
	return err
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

// pipelinedTx is InPipelinedTx's open transaction: the connection it runs on, as a DBTX.
type pipelinedTx struct{ conn *pgxpool.Conn }

func (tx pipelinedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return tx.conn.Exec(ctx, sql, args...)
}

func (tx pipelinedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return tx.conn.Query(ctx, sql, args...)
}

func (tx pipelinedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return tx.conn.QueryRow(ctx, sql, args...)
}

func (pipelinedTx) Begin(context.Context) (pgx.Tx, error) { return nil, ErrNestedTx }
