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

// startPrivateCluster runs a PostgreSQL of our own on a free port, listening on 127.0.0.1 and
// a Unix socket inside its data folder only, with password (SCRAM) authentication for every
// connection: anyone else on the machine reaches the port, so trust authentication would hand
// them every function's data. The superuser's password is generated on the first start and kept
// beside the cluster (superuserPasswordFile, 0600). PostgreSQL refuses to run as root, so as root
// it runs as the postgres user.
func startPrivateCluster(bin, dir string) (*database, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	runAs := func(name string, args ...string) *exec.Cmd { return pgCommand(bin, name, args...) }
	dataDir := filepath.Dir(dir)
	if os.Geteuid() == 0 {
		if err := openToPostgres(dataDir); err != nil {
			return nil, err
		}
	}
	passwordFile := filepath.Join(dataDir, superuserPasswordFile)
	_, statErr := os.Stat(passwordFile)
	legacy := false // a cluster made by an earlier version, on trust authentication
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		if err := initCluster(runAs, dir, passwordFile); err != nil {
			return nil, err
		}
	} else {
		legacy = statErr != nil
	}
	password, err := secretFile(passwordFile)
	if err != nil {
		return nil, err
	}
	if !legacy {
		// Rewritten at every start, so the authentication rules are always these.
		if err := writeHBA(dir); err != nil {
			return nil, err
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
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c password_encryption=scram-sha-256 -k %s", port, dir)
	if out, err := runAs("pg_ctl", "-D", dir, "-o", opts, "-l", logFile, "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("PostgreSQL did not start (pg_ctl: %v); its log %s ends with:\n%s\n%s",
			err, logFile, lastLines(logFile, 10), strings.TrimSpace(string(out)))
	}
	stop := func() {
		if out, err := runAs("pg_ctl", "-D", dir, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
			logf("stopping PostgreSQL: %v: %s", err, out)
		}
	}
	admin := &url.URL{Scheme: "postgres", User: url.UserPassword("postgres", password),
		Host: fmt.Sprintf("127.0.0.1:%d", port), Path: "/postgres", RawQuery: "sslmode=disable"}
	if legacy {
		if err := secureLegacyCluster(dir, admin); err != nil {
			stop()
			return nil, err
		}
	}
	logf("started a private PostgreSQL in %s on port %d", dir, port)
	return &database{adminURL: admin.String(), stop: stop}, nil
}

// superuserPasswordFile holds the private cluster's superuser password, in the data folder.
const superuserPasswordFile = "postgres-password"

// hbaRules are the private cluster's only authentication rules: a password for everyone, on the
// socket and on loopback alike.
const hbaRules = `# Written by the ordersaga local stack at every start (internal/local/database.go):
# password (SCRAM) authentication for every connection, nothing else.
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128 scram-sha-256
`

// initCluster creates the cluster in dir with SCRAM authentication and the superuser password
// from passwordFile (generated now). initdb reads it from a file, so the password never appears
// on a command line that ps shows.
func initCluster(runAs func(string, ...string) *exec.Cmd, dir, passwordFile string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := secretFile(passwordFile); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		if err := chownToPostgres(dir); err != nil {
			return err
		}
		if err := exec.Command("runuser", "-u", "postgres", "--", "test", "-w", dir).Run(); err != nil {
			return fmt.Errorf("as root, PostgreSQL runs as the postgres user, who cannot reach %s "+
				"(a parent folder is closed to it): set ORDERSAGA_DATA to a folder it can reach, "+
				"or DATABASE_URL to a running server", dir)
		}
	}
	// initdb runs as the postgres user when we are root: it gets its own copy of the password,
	// removed at once.
	pwfile := dir + ".pwfile"
	b, err := os.ReadFile(passwordFile)
	if err != nil {
		return err
	}
	if err := os.WriteFile(pwfile, b, 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if os.Geteuid() == 0 {
		if err := chownToPostgres(pwfile); err != nil {
			return err
		}
	}
	if out, err := runAs("initdb", "-D", dir, "-U", "postgres", "--auth=scram-sha-256", "--pwfile="+pwfile, "-E", "UTF8").CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

// writeHBA replaces dir's pg_hba.conf with hbaRules (owned by the postgres user when we are root).
func writeHBA(dir string) error {
	file := filepath.Join(dir, "pg_hba.conf")
	if err := os.WriteFile(file, []byte(hbaRules), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if os.Geteuid() == 0 {
		return chownToPostgres(file)
	}
	return nil
}

// secureLegacyCluster moves a cluster made on trust authentication by an earlier version (still
// running on it, just started) to SCRAM: the superuser gets the generated password, then the
// rules are replaced and reloaded. Errors: the connection's or the statements'.
func secureLegacyCluster(dir string, admin *url.URL) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("set a password on the private PostgreSQL in %s: %w", dir, err)
	}
	defer conn.Close(ctx)
	password, _ := admin.User.Password()
	if err := postgres.SetPassword(ctx, conn, "postgres", password); err != nil {
		return err
	}
	if err := writeHBA(dir); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("reload the authentication rules: %w", err)
	}
	logf("the private PostgreSQL in %s now requires passwords", dir)
	return nil
}

// openToPostgres lets the postgres user (the server's, when we are root) through the data folder
// to its cluster and nothing more: group postgres, mode 0710 (traverse, not list or read).
func openToPostgres(dataDir string) error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a postgres user to run PostgreSQL as: %w", err)
	}
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dataDir, -1, gid); err != nil {
		return err
	}
	return os.Chmod(dataDir, 0o710)
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
// URL each function connects with: its own role, which can touch nothing but its schema. Each
// role has its own password, generated once per data folder (db-password-<function>, 0600) and
// set on every start, so one function's URL opens no other function's schema.
func functionURLs(ctx context.Context, adminURL, dataDir string, schemas map[string]string) (map[string]string, error) {
	pool, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	urls := map[string]string{}
	for fn, schema := range schemas {
		password, err := secretFile(filepath.Join(dataDir, "db-password-"+fn))
		if err != nil {
			return nil, err
		}
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
