// Package pgtest gives a test package its own PostgreSQL database on the real server, created
// for the test and dropped after it. Tests never mock the database.
package pgtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga/internal/postgres"
)

// AdminURL is the server tests use: TEST_DATABASE_URL, or the local trust-auth server.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// NewDatabase creates an empty database for tb and returns an administrator URL for it; the
// database is dropped when tb ends. Without a server the test is skipped, except under CI=true,
// where a test that needs PostgreSQL fails.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("PostgreSQL is required in CI: %v", err)
		}
		tb.Skipf("PostgreSQL not reachable at %s: %v", AdminURL(), err)
	}
	defer admin.Close(context.Background())

	name := fmt.Sprintf("test_%s_%d", sanitize(tb.Name()), rand.Uint32())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			tb.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	u, _ := url.Parse(AdminURL())
	u.Path = "/" + name
	return u.String()
}

// NewSchema creates a database for tb, a login role owning schema in it, and returns the URL
// the function connects with as that role: the same isolation a deployment has.
func NewSchema(tb testing.TB, role, schema string) string {
	tb.Helper()
	adminURL := NewDatabase(tb)
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	if err := postgres.EnsureRole(ctx, admin, role, role, schema); err != nil {
		tb.Fatal(err)
	}
	u, _ := url.Parse(adminURL)
	u.User = url.UserPassword(role, role)
	return u.String()
}

var unsafe = regexp.MustCompile(`[^a-z0-9]+`)

func sanitize(s string) string {
	s = unsafe.ReplaceAllString(strings.ToLower(s), "_")
	if len(s) > 30 {
		s = s[:30]
	}
	return s
}
