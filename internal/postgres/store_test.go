package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/postgres"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

type thing struct {
	Name  string `db:"name"`
	Count int64  `db:"count"`
}

func TestQueryHelpersMapRowsByNameAndTranslateNoRows(t *testing.T) {
	ctx := context.Background()
	pool, err := postgres.Connect(ctx, pgtest.NewSchema(t, "ordersaga_postgres_test", "storetest"), "storetest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE TABLE things (name text PRIMARY KEY, count bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	err = postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO things VALUES ('a', 1), ('b', 2)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	got, err := postgres.QueryOne[thing](ctx, pool, nil, `SELECT count, name FROM things WHERE name = 'b'`)
	if err != nil || got != (thing{Name: "b", Count: 2}) {
		t.Errorf("QueryOne = %+v, %v; want b/2 mapped by name whatever the column order", got, err)
	}
	notFound := apperr.Errorf(apperr.NotFound, "no such thing")
	if _, err := postgres.QueryOne[thing](ctx, pool, notFound, `SELECT name, count FROM things WHERE name = 'z'`); !errors.Is(err, notFound) {
		t.Errorf("QueryOne of no row = %v, want the caller's NotFound", err)
	}
	if _, err := postgres.QueryOne[thing](ctx, pool, nil, `SELECT name, count FROM things WHERE name = 'z'`); !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("QueryOne of no row without notFound = %v, want pgx.ErrNoRows", err)
	}
	all, err := postgres.QueryAll[thing](ctx, pool, `SELECT name, count FROM things ORDER BY name`)
	if err != nil || len(all) != 2 || all[0].Name != "a" || all[1].Count != 2 {
		t.Errorf("QueryAll = %+v, %v", all, err)
	}
	none, err := postgres.QueryAll[thing](ctx, pool, `SELECT name, count FROM things WHERE false`)
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("QueryAll of no rows = %#v, %v; want an empty, non-nil slice", none, err)
	}

	boom := errors.New("boom")
	err = postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM things`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	if n, _ := postgres.QueryAll[thing](ctx, pool, `SELECT name, count FROM things`); len(n) != 2 {
		t.Errorf("%d rows after a failed InTx, want the delete rolled back", len(n))
	}
}
