package local

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The private cluster is what `make run` starts when DATABASE_URL is unset. It runs from a
// relative data folder, as `make run` gives it (.data), starts again on the same folder, and
// starts again after an unclean stop that left the server running.
func TestPrivateClusterStartsStopsAndRestarts(t *testing.T) {
	dir := privateDataDir(t)
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

// privateDataDir is a relative data folder (as make run passes it, .data) for a private cluster,
// in a temporary folder the test works in; it skips the test when PostgreSQL is not installed
// (fails under CI).
func privateDataDir(t *testing.T) string {
	t.Helper()
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
	const dir = ".data"
	if err := prepareDataDir(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The private cluster takes no connection without a password, on TCP or on its socket, and
// each function's role has its own password and reaches only its own schema.
func TestPrivateClusterRequiresPasswords(t *testing.T) {
	dir := privateDataDir(t)
	ctx := context.Background()
	db, err := startDatabase(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.stop()
	if err := ping(ctx, db.adminURL); err != nil {
		t.Fatalf("the superuser with its password: %v", err)
	}
	admin, err := url.Parse(db.adminURL)
	if err != nil {
		t.Fatal(err)
	}
	socketDir, err := filepath.Abs(filepath.Join(dir, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	for name, u := range map[string]string{
		"TCP, no password":    "postgres://postgres@" + admin.Host + "/postgres?sslmode=disable",
		"TCP, wrong password": "postgres://postgres:guess@" + admin.Host + "/postgres?sslmode=disable",
		"socket, no password": fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%s", socketDir, admin.Port()),
	} {
		err := ping(ctx, u)
		if err == nil {
			t.Errorf("%s: connected", name)
		} else if !strings.Contains(err.Error(), "password") {
			t.Errorf("%s: refused for another reason than the password: %v", name, err)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, superuserPasswordFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the superuser password file: %v %v, want mode 600", info.Mode(), err)
	}

	urls, err := functionURLs(ctx, db.adminURL, dir, map[string]string{"order": "orders", "inventory": "inventory"})
	if err != nil {
		t.Fatal(err)
	}
	order, err := pgx.Connect(ctx, urls["order"])
	if err != nil {
		t.Fatal(err)
	}
	defer order.Close(ctx)
	if _, err := order.Exec(ctx, `CREATE TABLE orders.secret (v text); INSERT INTO orders.secret VALUES ('x')`); err != nil {
		t.Fatalf("the order role in its own schema: %v", err)
	}
	inventory, err := pgx.Connect(ctx, urls["inventory"])
	if err != nil {
		t.Fatal(err)
	}
	defer inventory.Close(ctx)
	var v string
	if err := inventory.QueryRow(ctx, `SELECT v FROM orders.secret`).Scan(&v); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the inventory role read the order function's schema (%q, %v)", v, err)
	}
	// Each role has its own password: the order function's does not open the inventory role.
	orderURL, _ := url.Parse(urls["order"])
	orderPassword, _ := orderURL.User.Password()
	crossed, _ := url.Parse(urls["inventory"])
	crossed.User = url.UserPassword(crossed.User.Username(), orderPassword)
	if err := ping(ctx, crossed.String()); err == nil {
		t.Error("the order function's password opens the inventory role")
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

// A cluster an earlier version made on trust authentication gets the superuser password and the
// SCRAM rules on its next start.
func TestATrustClusterIsMovedToPasswords(t *testing.T) {
	dir := privateDataDir(t)
	bin, err := postgresBinaries()
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := filepath.Abs(filepath.Join(dir, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cluster, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := openToPostgres(dir); err != nil {
			t.Fatal(err)
		}
		if err := chownToPostgres(cluster); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := pgCommand(bin, "initdb", "-D", cluster, "-U", "postgres", "--auth=trust", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	ctx := context.Background()
	db, err := startDatabase(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.stop()
	if err := ping(ctx, db.adminURL); err != nil {
		t.Fatalf("the superuser with its new password: %v", err)
	}
	admin, _ := url.Parse(db.adminURL)
	if err := ping(ctx, "postgres://postgres@"+admin.Host+"/postgres?sslmode=disable"); err == nil {
		t.Error("the moved cluster still trusts connections without a password")
	}
	if b, err := os.ReadFile(filepath.Join(cluster, "pg_hba.conf")); err != nil || string(b) != hbaRules {
		t.Errorf("pg_hba.conf is not the stack's rules: %v\n%s", err, b)
	}
}
