package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// The private cluster is what `make run` starts when DATABASE_URL is unset or unreachable.
func TestPrivateClusterStartsStopsAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	if _, err := postgresBinaries(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	// As root the server runs as the postgres user, who must be able to reach the folder.
	dir, err := os.MkdirTemp("", "ordersaga-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	unreachable := "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable"

	db, err := startDatabase(ctx, unreachable, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ping(ctx, db.adminURL); err != nil {
		db.stop()
		t.Fatalf("private cluster does not answer: %v", err)
	}
	urls, err := functionURLs(ctx, db.adminURL, dir, map[string]string{"order": "orders"})
	if err != nil {
		db.stop()
		t.Fatal(err)
	}
	if err := ping(ctx, urls["order"]); err != nil {
		t.Errorf("the function's own role cannot connect: %v", err)
	}
	db.stop()
	if err := ping(ctx, db.adminURL); err == nil {
		t.Error("the private cluster still answers after stop")
	}

	// A second start reuses the cluster made by the first (no second initdb).
	again, err := startDatabase(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer again.stop()
	if _, err := os.Stat(filepath.Join(dir, "postgres", "PG_VERSION")); err != nil {
		t.Fatal(err)
	}
	if _, err := functionURLs(ctx, again.adminURL, dir, map[string]string{"order": "orders"}); err != nil {
		t.Errorf("restarted cluster: %v", err)
	}
}
