package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The private cluster is what `make run` starts when DATABASE_URL is unset. It runs from a
// relative data folder, as `make run` gives it (.data), starts again on the same folder, and
// starts again after an unclean stop that left the server running.
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
	parent, err := os.MkdirTemp("", "ordersaga-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(parent)
	const dir = ".data" // relative, as make run passes it
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	db, err := startDatabase(ctx, "", dir)
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
	if _, err := os.Stat(filepath.Join(dir, "postgres", "PG_VERSION")); err != nil {
		t.Fatal(err)
	}
	if _, err := functionURLs(ctx, again.adminURL, dir, map[string]string{"order": "orders"}); err != nil {
		t.Errorf("restarted cluster: %v", err)
	}

	// An unclean stop: the stack died without stopping its server. The next start takes over.
	third, err := startDatabase(ctx, "", dir)
	if err != nil {
		again.stop()
		t.Fatalf("start after an unclean stop: %v", err)
	}
	defer third.stop()
	if err := ping(ctx, again.adminURL); err == nil && again.adminURL != third.adminURL {
		t.Error("the server left running by the previous start still answers")
	}
	if err := ping(ctx, third.adminURL); err != nil {
		t.Errorf("cluster started after an unclean stop does not answer: %v", err)
	}
}

// A DATABASE_URL set on purpose but not answering is an error naming it (without its password),
// never a silent switch to another database.
func TestUnreachableDatabaseURLIsAnError(t *testing.T) {
	dir := t.TempDir()
	_, err := startDatabase(context.Background(), "postgres://admin:s3cret-pw@127.0.0.1:1/shop?sslmode=disable", dir)
	if err == nil {
		t.Fatal("an unreachable DATABASE_URL was accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, "127.0.0.1:1/shop") || !strings.Contains(msg, "DATABASE_URL") {
		t.Errorf("the error does not name the URL: %s", msg)
	}
	if strings.Contains(msg, "s3cret-pw") {
		t.Errorf("the error shows the password: %s", msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres")); !os.IsNotExist(err) {
		t.Errorf("a private cluster was set up anyway (%v)", err)
	}
}
