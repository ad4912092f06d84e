package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/local"
	"github.com/ordersaga/ordersaga/internal/manifests"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The local stack is started once for the package, by the first test that needs it, and
// stopped by TestMain. Its database is created here rather than with pgtest.NewDatabase, which
// needs a testing.TB.
var (
	stackOnce sync.Once
	stack     *local.Stack
	stackErr  error
	stackSkip string
	stackDir  string
	dropDB    func()
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if stack != nil {
		stack.Stop()
	}
	if dropDB != nil {
		dropDB()
	}
	if stackDir != "" {
		os.RemoveAll(stackDir)
	}
	os.Exit(code)
}

// startStack returns the package's running local stack, starting it on first use. It is skipped
// under -short, and without PostgreSQL outside CI.
func startStack(t *testing.T) *local.Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the local stack; skipped under -short")
	}
	stackOnce.Do(func() { stackSkip, stackErr = bootStack() })
	if stackSkip != "" {
		t.Skip(stackSkip)
	}
	if stackErr != nil {
		t.Fatalf("local stack: %v", stackErr)
	}
	return stack
}

func bootStack() (skip string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		if os.Getenv("CI") == "true" {
			return "", fmt.Errorf("PostgreSQL is required in CI: %w", err)
		}
		return fmt.Sprintf("PostgreSQL not reachable at %s: %v", pgtest.AdminURL(), err), nil
	}
	name := fmt.Sprintf("test_ordersctl_%d", rand.Uint32())
	_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	admin.Close(context.Background())
	if err != nil {
		return "", err
	}
	dropDB = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, pgtest.AdminURL()); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			c.Close(ctx)
		}
	}
	u, _ := url.Parse(pgtest.AdminURL())
	u.Path = "/" + name

	root, err := manifests.ModuleRoot()
	if err != nil {
		return "", err
	}
	if stackDir, err = os.MkdirTemp("", "ordersctl-test-"); err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	// The stack lives as long as its context: the package's, until TestMain stops it.
	stack, err = local.Start(context.Background(), local.Config{
		Root: root, DataDir: stackData(), DatabaseURL: u.String(),
		KafkaPort: port, GatewayAddr: "127.0.0.1:0",
		AdminEmail: "admin@example.com", AdminPassword: "admin-password-123",
		PaymentSuccessRate: "1", Quiet: true,
	})
	return "", err
}

// stackData is the shared stack's data folder: ordersctl finds the stack's Kafka credentials in
// it (ORDERSAGA_DATA), as it finds .data's after `make run`.
func stackData() string { return filepath.Join(stackDir, "data") }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// result is what one run of the CLI did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// vars is an environment for the CLI.
type vars map[string]string

func (v vars) env() Env {
	return Env{Getenv: func(k string) string { return v[k] }, Stdin: strings.NewReader(""), StdinFd: -1}
}

// with returns a copy of v with more variables.
func (v vars) with(kv ...string) vars {
	out := vars{}
	for k, x := range v {
		out[k] = x
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// run runs ordersctl in-process.
func run(t *testing.T, v vars, args ...string) result {
	t.Helper()
	return runCtx(context.Background(), v, nil, nil, args...)
}

func runCtx(ctx context.Context, v vars, stdout, stderr *syncBuffer, args ...string) result {
	return runEnv(ctx, v.env(), stdout, stderr, args...)
}

// runStdin runs ordersctl in-process with stdin, which is not a terminal.
func runStdin(t *testing.T, v vars, stdin string, args ...string) result {
	t.Helper()
	env := v.env()
	env.Stdin = strings.NewReader(stdin)
	return runEnv(context.Background(), env, nil, nil, args...)
}

func runEnv(ctx context.Context, env Env, stdout, stderr *syncBuffer, args ...string) result {
	if stdout == nil {
		stdout = &syncBuffer{}
	}
	if stderr == nil {
		stderr = &syncBuffer{}
	}
	code := Run(ctx, args, stdout, stderr, env)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// ok runs a command that must succeed.
func ok(t *testing.T, v vars, args ...string) string {
	t.Helper()
	r := run(t, v, args...)
	if r.code != 0 {
		t.Fatalf("ordersctl %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}
