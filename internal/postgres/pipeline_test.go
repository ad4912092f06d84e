package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga/internal/postgres"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

// newLedger is a pool of one connection on a schema with a claims table and an effects table.
func newLedger(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return newTracedLedger(t, nil)
}

// newTracedLedger is newLedger with tracer watching its connection.
func newTracedLedger(t *testing.T, tracer pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.NewSchema(t, "ordersaga_pipeline_test", "pipelinetest"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tracer
	cfg.MaxConns = 1
	cfg.ConnConfig.RuntimeParams["search_path"] = "pipelinetest"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE TABLE claims (id text PRIMARY KEY, note text);
		CREATE TABLE effects (n int NOT NULL CHECK (n > 0))`); err != nil {
		t.Fatal(err)
	}
	return pool
}

func rows(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var claimA = postgres.Statement{SQL: `INSERT INTO claims (id) VALUES ($1) ON CONFLICT DO NOTHING`, Args: []any{"a"}}

var errClaimedBefore = errors.New("claimed before")

// newClaim is the check of claimA: only a new claim goes on.
func newClaim(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return errClaimedBefore
	}
	return nil
}

func TestInPipelinedTxCommitsTheFirstStatementTheEffectAndTheLastTogether(t *testing.T) {
	ctx := context.Background()
	pool := newLedger(t)
	var fnErrs []error
	run := func(n int) error {
		return postgres.InPipelinedTx(ctx, pool, claimA, newClaim, func(tx postgres.DBTX) ([]postgres.Statement, error) {
			_, err := tx.Exec(ctx, `INSERT INTO effects VALUES ($1)`, n) // sent with BEGIN and the claim
			fnErrs = append(fnErrs, err)
			if err != nil {
				return nil, err
			}
			return []postgres.Statement{{SQL: `UPDATE claims SET note = $2 WHERE id = $1`, Args: []any{"a", "done"}}}, nil
		})
	}
	if err := run(1); err != nil {
		t.Fatal(err)
	}
	if err := run(2); !errors.Is(err, errClaimedBefore) {
		t.Fatalf("the second run = %v, want the check's refusal", err)
	}
	var note string
	if err := pool.QueryRow(ctx, `SELECT note FROM claims WHERE id = 'a'`).Scan(&note); err != nil || note != "done" {
		t.Errorf("note = %q, %v; want the last statement's \"done\" committed", note, err)
	}
	if len(fnErrs) != 2 || fnErrs[0] != nil || !errors.Is(fnErrs[1], errClaimedBefore) {
		t.Errorf("fn's first statement returned %v; want nil, then the check's refusal", fnErrs)
	}
	var effects []int
	if err := pool.QueryRow(ctx, `SELECT array_agg(n) FROM effects`).Scan(&effects); err != nil || len(effects) != 1 || effects[0] != 1 {
		t.Errorf("effects %v, %v; want only the first run's [1]: the refused run's statement rolled back", effects, err)
	}
}

// A refusal ends the transaction even when fn ignores it and goes on, and even when fn runs no
// statement at all (BEGIN and the first statement then go alone, before the COMMIT).
func TestInPipelinedTxRefusalEndsTheTransactionWhateverFnDoes(t *testing.T) {
	ctx := context.Background()
	pool := newLedger(t)
	if _, err := pool.Exec(ctx, `INSERT INTO claims (id) VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(tx postgres.DBTX) ([]postgres.Statement, error){
		"fn ignores the error": func(tx postgres.DBTX) ([]postgres.Statement, error) {
			_, _ = tx.Exec(ctx, `INSERT INTO effects VALUES (1)`)
			return []postgres.Statement{{SQL: `INSERT INTO effects VALUES (2)`}}, nil
		},
		"fn runs no statement": func(tx postgres.DBTX) ([]postgres.Statement, error) {
			if err := postgres.ExecAtCommit(ctx, tx, "add an effect", `INSERT INTO effects VALUES (3)`); err != nil {
				return nil, err
			}
			return []postgres.Statement{{SQL: `INSERT INTO effects VALUES (4)`}}, nil
		},
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			if err := postgres.InPipelinedTx(ctx, pool, claimA, newClaim, fn); !errors.Is(err, errClaimedBefore) {
				t.Errorf("InPipelinedTx = %v, want the check's refusal", err)
			}
			if n := rows(t, pool, "effects"); n != 0 {
				t.Errorf("%d effects, want none", n)
			}
		})
	}
}

// fn's first read travels with BEGIN: its rows read as any query's, whether they are collected,
// scanned as one row, looped over, or left unread, and the next statement finds the connection
// free.
func TestInPipelinedTxFirstReadGoesWithBegin(t *testing.T) {
	ctx := context.Background()
	pool := newLedger(t)
	if _, err := pool.Exec(ctx, `INSERT INTO effects VALUES (5), (6)`); err != nil {
		t.Fatal(err)
	}
	reads := map[string]func(tx postgres.DBTX) (int, error){
		"collected": func(tx postgres.DBTX) (int, error) {
			all, err := postgres.QueryAll[struct {
				N int `db:"n"`
			}](ctx, tx, `SELECT n FROM effects ORDER BY n`)
			if err != nil || len(all) != 2 {
				return 0, fmt.Errorf("QueryAll = %v, %v", all, err)
			}
			return all[0].N + all[1].N, nil
		},
		"one row": func(tx postgres.DBTX) (int, error) {
			var sum int
			err := tx.QueryRow(ctx, `SELECT sum(n) FROM effects`).Scan(&sum)
			return sum, err
		},
		"no row": func(tx postgres.DBTX) (int, error) {
			var n int
			if err := tx.QueryRow(ctx, `SELECT n FROM effects WHERE n > 100`).Scan(&n); !errors.Is(err, pgx.ErrNoRows) {
				return 0, fmt.Errorf("QueryRow of no row = %v, want pgx.ErrNoRows", err)
			}
			return 11, nil
		},
		"looped without Close": func(tx postgres.DBTX) (int, error) {
			rows, err := tx.Query(ctx, `SELECT n FROM effects`)
			if err != nil {
				return 0, err
			}
			sum := 0
			for rows.Next() {
				var n int
				if err := rows.Scan(&n); err != nil {
					return 0, err
				}
				sum += n
			}
			return sum, rows.Err()
		},
		"closed unread": func(tx postgres.DBTX) (int, error) {
			rows, err := tx.Query(ctx, `SELECT n FROM effects`)
			if err != nil {
				return 0, err
			}
			rows.Close()
			return 11, rows.Err()
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			var sum, after int
			err := postgres.InPipelinedTx(ctx, pool, claimA, nil, func(tx postgres.DBTX) ([]postgres.Statement, error) {
				var err error
				if sum, err = read(tx); err != nil {
					return nil, err
				}
				return nil, tx.QueryRow(ctx, `SELECT count(*) FROM claims`).Scan(&after)
			})
			if err != nil || sum != 11 || after != 1 {
				t.Errorf("InPipelinedTx = %v with sum %d and %d claims seen after; want nil, 11 and 1", err, sum, after)
			}
			if _, err := pool.Exec(ctx, `DELETE FROM claims`); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Whichever part fails, nothing of the transaction remains, and the connection goes back to the
// pool (it has one: a connection not released would leave the next case waiting for ever).
func TestInPipelinedTxRollsBackWhicheverPartFails(t *testing.T) {
	ctx := context.Background()
	pool := newLedger(t)
	boom := errors.New("boom")
	effect := func(tx postgres.DBTX) error {
		_, err := tx.Exec(ctx, `INSERT INTO effects VALUES (1)`)
		return err
	}
	cases := map[string]struct {
		first postgres.Statement
		fn    func(tx postgres.DBTX) ([]postgres.Statement, error)
		isErr func(error) bool
	}{
		"the first statement": {
			first: postgres.Statement{SQL: `INSERT INTO claims (id) VALUES ($1)`, Args: []any{nil}},
			fn:    func(tx postgres.DBTX) ([]postgres.Statement, error) { return nil, effect(tx) },
			isErr: func(err error) bool { return hasCode(err, "23502") }, // not null
		},
		"fn": {
			first: claimA,
			fn: func(tx postgres.DBTX) ([]postgres.Statement, error) {
				if err := effect(tx); err != nil {
					return nil, err
				}
				return nil, boom
			},
			isErr: func(err error) bool { return errors.Is(err, boom) },
		},
		"a statement of fn": {
			first: claimA,
			fn: func(tx postgres.DBTX) ([]postgres.Statement, error) {
				if err := effect(tx); err != nil {
					return nil, err
				}
				_, err := tx.Exec(ctx, `INSERT INTO effects VALUES (0)`) // the check fails
				return nil, err
			},
			isErr: postgres.IsCheckViolation,
		},
		"a last statement": {
			first: claimA,
			fn: func(tx postgres.DBTX) ([]postgres.Statement, error) {
				return []postgres.Statement{{SQL: `INSERT INTO effects VALUES (-1)`}}, effect(tx)
			},
			isErr: postgres.IsCheckViolation,
		},
		"a statement at commit": {
			first: claimA,
			fn: func(tx postgres.DBTX) ([]postgres.Statement, error) {
				if err := postgres.ExecAtCommit(ctx, tx, "add an effect", `INSERT INTO effects VALUES (-1)`); err != nil {
					return nil, err // it must wait for the COMMIT, not fail here
				}
				return nil, effect(tx)
			},
			isErr: func(err error) bool { // and says which statement failed, though it failed late
				return postgres.IsCheckViolation(err) && strings.HasPrefix(err.Error(), "add an effect: ")
			},
		},
		"a nested transaction": {
			first: claimA,
			fn: func(tx postgres.DBTX) ([]postgres.Statement, error) {
				if err := effect(tx); err != nil {
					return nil, err
				}
				_, err := tx.Begin(ctx)
				return nil, err
			},
			isErr: func(err error) bool { return errors.Is(err, postgres.ErrNestedTx) },
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := postgres.InPipelinedTx(ctx, pool, c.first, nil, c.fn)
			if !c.isErr(err) {
				t.Fatalf("InPipelinedTx = %v, want the failing part's error", err)
			}
			if n, m := rows(t, pool, "claims"), rows(t, pool, "effects"); n != 0 || m != 0 {
				t.Errorf("%d claims and %d effects left, want all rolled back", n, m)
			}
		})
	}
}

func hasCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// ExecAtCommit waits for the COMMIT of a pipelined transaction (the statements after it do not
// see its effect) and runs at once anywhere else.
func TestExecAtCommitWaitsForThePipelinedCommitAndRunsAtOnceElsewhere(t *testing.T) {
	ctx := context.Background()
	pool := newLedger(t)
	var seenBeforeCommit int
	err := postgres.InPipelinedTx(ctx, pool, claimA, nil, func(tx postgres.DBTX) ([]postgres.Statement, error) {
		if err := postgres.ExecAtCommit(ctx, tx, "add an effect", `INSERT INTO effects VALUES ($1)`, 1); err != nil {
			return nil, err
		}
		return nil, tx.QueryRow(ctx, `SELECT count(*) FROM effects`).Scan(&seenBeforeCommit)
	})
	if err != nil {
		t.Fatal(err)
	}
	if seenBeforeCommit != 0 || rows(t, pool, "effects") != 1 {
		t.Errorf("the transaction saw %d effects before its commit and %d are committed; want 0, then 1", seenBeforeCommit, rows(t, pool, "effects"))
	}
	if err := postgres.ExecAtCommit(ctx, pool, "add an effect", `INSERT INTO effects VALUES ($1)`, 2); err != nil || rows(t, pool, "effects") != 2 {
		t.Errorf("ExecAtCommit on the pool = %v with %d effects; want it run at once (2)", err, rows(t, pool, "effects"))
	}
}

// On a transaction rather than a pool (a store running inside one), InPipelinedTx is a savepoint
// of it: its work commits with the outer transaction, and its failure undoes only its own work.
func TestInPipelinedTxInsideATransactionIsASavepoint(t *testing.T) {
	ctx := context.Background()
	pool := newLedger(t)
	boom := errors.New("boom")
	err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO effects VALUES (7)`); err != nil {
			return err
		}
		failed := postgres.InPipelinedTx(ctx, tx, claimA, nil, func(inner postgres.DBTX) ([]postgres.Statement, error) {
			return nil, boom
		})
		if !errors.Is(failed, boom) {
			t.Errorf("a failing nested InPipelinedTx = %v, want fn's error", failed)
		}
		return postgres.InPipelinedTx(ctx, tx, claimA, newClaim, func(inner postgres.DBTX) ([]postgres.Statement, error) {
			if err := postgres.ExecAtCommit(ctx, inner, "add an effect", `INSERT INTO effects VALUES (8)`); err != nil {
				return nil, err
			}
			return []postgres.Statement{{SQL: `UPDATE claims SET note = 'done' WHERE id = 'a'`}}, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	var note string
	if err := pool.QueryRow(ctx, `SELECT note FROM claims WHERE id = 'a'`).Scan(&note); err != nil || note != "done" {
		t.Errorf("claim note = %q, %v; want the second savepoint's claim and last statement committed", note, err)
	}
	if n := rows(t, pool, "effects"); n != 2 {
		t.Errorf("%d effects, want 2: the outer one and the second savepoint's", n)
	}
}

// roundTrips counts the requests a connection makes that wait for an answer: statements run on
// their own and batches (a batch is one round trip, whatever it holds).
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// A step of the saga's shape (claim, a read, a deferred write, a stored reply) is two round trips;
// a duplicate is two as well (the opening batch, then its rollback). This is the cost the hot
// path is built around, counted rather than timed.
func TestInPipelinedTxRoundTrips(t *testing.T) {
	ctx := context.Background()
	trips := &roundTrips{}
	pool := newTracedLedger(t, trips)
	step := func(id string) error {
		claim := postgres.Statement{SQL: `INSERT INTO claims (id) VALUES ($1) ON CONFLICT DO NOTHING`, Args: []any{id}}
		return postgres.InPipelinedTx(ctx, pool, claim, newClaim, func(tx postgres.DBTX) ([]postgres.Statement, error) {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM effects`).Scan(&n); err != nil {
				return nil, err
			}
			if err := postgres.ExecAtCommit(ctx, tx, "add an effect", `INSERT INTO effects VALUES ($1)`, n+1); err != nil {
				return nil, err
			}
			return []postgres.Statement{{SQL: `UPDATE claims SET note = 'done' WHERE id = $1`, Args: []any{id}}}, nil
		})
	}
	if err := step("warm-up"); err != nil { // prepares the statements: one more round trip, once
		t.Fatal(err)
	}
	cases := []struct {
		id    string
		isErr func(error) bool
	}{
		{"b", func(err error) bool { return err == nil }},
		{"b", func(err error) bool { return errors.Is(err, errClaimedBefore) }},
	}
	for _, c := range cases {
		before := trips.n.Load()
		if err := step(c.id); !c.isErr(err) {
			t.Fatalf("step %s = %v", c.id, err)
		}
		if n := trips.n.Load() - before; n != 2 {
			t.Errorf("step %s took %d round trips, want 2", c.id, n)
		}
	}
	if n := rows(t, pool, "effects"); n != 2 {
		t.Errorf("%d effects, want 2 (the warm-up's and b's)", n)
	}
}
