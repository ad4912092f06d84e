package local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga/internal/postgres"
)

// database is the PostgreSQL the stack runs on: an administrator URL and how to stop it.
type database struct {
	adminURL string
	stop     func()
}

// startDatabase uses databaseURL when it is set, and fails with what to do when it does not
// answer: a user who named a server on purpose must not silently get another one. Only when it
// is unset does it create (once) and start a private cluster under dataDir with the installed
// PostgreSQL binaries, or say what to install.
func startDatabase(ctx context.Context, databaseURL, dataDir string) (*database, error) {
	if databaseURL != "" {
		if err := ping(ctx, databaseURL); err != nil {
			return nil, fmt.Errorf("DATABASE_URL (%s) does not answer: %w\n"+
				"Start that server, correct DATABASE_URL, or unset it to let the stack run a private PostgreSQL under %s",
				redactURL(databaseURL), err, dataDir)
		}
		return &database{adminURL: databaseURL, stop: func() {}}, nil
	}
	bin, err := postgresBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Join(dataDir, "postgres"))
	if err != nil {
		return nil, err
	}
	return startPrivateCluster(bin, dir)
}

// redactURL is a database URL fit for a message: its password replaced.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "an unparsable URL"
	}
	return u.Redacted()
}

func ping(ctx context.Context, databaseURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// postgresBinaries finds initdb and pg_ctl: on PATH, or in Debian's versioned folders.
func postgresBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("no PostgreSQL found: set DATABASE_URL to a reachable server, or install PostgreSQL " +
		"(Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) so a private one can be started")
}

// startPrivateCluster runs a PostgreSQL of our own on a free port, with trust authentication on
// 127.0.0.1 only. PostgreSQL refuses to run as root, so as root it runs as the postgres user.
func startPrivateCluster(bin, dir string) (*database, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	runAs := func(name string, args ...string) *exec.Cmd { return pgCommand(bin, name, args...) }
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if os.Geteuid() == 0 {
			if err := chownToPostgres(dir); err != nil {
				return nil, err
			}
			if err := exec.Command("runuser", "-u", "postgres", "--", "test", "-w", dir).Run(); err != nil {
				return nil, fmt.Errorf("as root, PostgreSQL runs as the postgres user, who cannot reach %s "+
					"(a parent folder is closed to it): set ORDERSAGA_DATA to a folder it can reach, "+
					"or DATABASE_URL to a running server", dir)
			}
		}
		if out, err := runAs("initdb", "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb: %v\n%s", err, out)
		}
	}
	// A server left running by a stack that was killed (its pg_ctl stop never ran) holds the
	// data folder: stop it first, so every start is the same clean start on a fresh port.
	if runAs("pg_ctl", "-D", dir, "status").Run() == nil {
		logf("stopping the PostgreSQL a previous run left in %s", dir)
		if out, err := runAs("pg_ctl", "-D", dir, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("stop the PostgreSQL left running in %s: %v\n%s", dir, err, out)
		}
	}
	logFile := filepath.Join(dir, "server.log")
	// Absolute paths throughout: the server runs from inside its data folder, so a relative
	// socket folder would resolve against the wrong place.
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s", port, dir)
	if out, err := runAs("pg_ctl", "-D", dir, "-o", opts, "-l", logFile, "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("PostgreSQL did not start (pg_ctl: %v); its log %s ends with:\n%s\n%s",
			err, logFile, lastLines(logFile, 10), strings.TrimSpace(string(out)))
	}
	stop := func() {
		if out, err := runAs("pg_ctl", "-D", dir, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
			logf("stopping PostgreSQL: %v: %s", err, out)
		}
	}
	adminURL := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	logf("started a private PostgreSQL in %s on port %d", dir, port)
	return &database{adminURL: adminURL, stop: stop}, nil
}

// pgCommand runs one of PostgreSQL's programs from bin, as the postgres user when we are root.
func pgCommand(bin, name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
	}
	return exec.Command(filepath.Join(bin, name), args...)
}

func chownToPostgres(dir string) error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a postgres user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
}

// functionURLs creates each function's role and schema (postgres.EnsureRole) and returns the
// URL each function connects with: its own role, which can touch nothing but its schema. The
// roles' password is generated once per data folder (kept there, 0600) and set on every start.
func functionURLs(ctx context.Context, adminURL, dataDir string, schemas map[string]string) (map[string]string, error) {
	password, err := secretFile(filepath.Join(dataDir, "db-password"))
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	urls := map[string]string{}
	for fn, schema := range schemas {
		role := "ordersaga_" + fn
		if err := postgres.EnsureRole(ctx, pool, role, password, schema); err != nil {
			return nil, err
		}
		if err := postgres.SetPassword(ctx, pool, role, password); err != nil {
			return nil, err
		}
		u, err := url.Parse(adminURL)
		if err != nil {
			return nil, err
		}
		u.User = url.UserPassword(role, password)
		urls[fn] = u.String()
	}
	return urls, nil
}

// secretFile returns the secret kept in file, generating it (0600) on first use.
func secretFile(file string) (string, error) {
	if b, err := os.ReadFile(file); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	secret := rand.Text()
	return secret, os.WriteFile(file, []byte(secret+"\n"), 0o600)
}

// lastLines is the end of a log file, for an error message.
func lastLines(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
