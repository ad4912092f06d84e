package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/retry"
)

// EnsureRole makes role a login role that owns schema and may touch nothing else in the
// database: the per-function isolation of docs/CONTRACTS.md ("Delivery") (the function's pool sets its
// search_path itself, see Connect, so the role stays free of per-role settings). It runs as an administrator
// (the local stack and tests; on a cluster the database operator does this) and is idempotent,
// also when several callers race, since roles are shared by the whole PostgreSQL cluster.
func EnsureRole(ctx context.Context, admin DBTX, role, password, schema string) error {
	r, s := pgx.Identifier{role}.Sanitize(), pgx.Identifier{schema}.Sanitize()
	create := fmt.Sprintf(`DO $$ BEGIN
	CREATE ROLE %s LOGIN PASSWORD %s;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$`, r, quoteLiteral(password))
	if _, err := admin.Exec(ctx, create); err != nil {
		return fmt.Errorf("create role %s: %w", role, err)
	}
	for _, stmt := range []string{
		fmt.Sprintf(`CREATE SCHEMA IF NOT EXISTS %s AUTHORIZATION %s`, s, r),
		fmt.Sprintf(`ALTER SCHEMA %s OWNER TO %s`, s, r),
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// SetPassword sets role's password (EnsureRole sets it only when it creates the role). Roles
// belong to the whole server, so another caller may be altering the same role at this moment
// ("tuple concurrently updated"): it tries a few times. Errors: the last attempt's, or ctx's.
func SetPassword(ctx context.Context, admin DBTX, role, password string) error {
	stmt := fmt.Sprintf("ALTER ROLE %s PASSWORD %s", pgx.Identifier{role}.Sanitize(), quoteLiteral(password))
	err := retry.Do(ctx, retry.Backoff{Attempts: 10, Delay: 50 * time.Millisecond}, func(ctx context.Context) error {
		_, err := admin.Exec(ctx, stmt)
		return err
	})
	if err != nil {
		return fmt.Errorf("set the password of %s: %w", role, err)
	}
	return nil
}

// quoteLiteral quotes s as an SQL string literal (role statements take no parameters).
func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
