package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/kafka"
	"github.com/ordersaga/ordersaga/internal/local"
	"github.com/ordersaga/ordersaga/internal/manifests"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

// chromium is Debian's Chromium (apt-get install chromium), the browser the test drives.
const chromium = "/usr/bin/chromium"

// TestConsole signs in, places an order and watches it move to its end, opens its timeline, looks at
// the flow, orders, stock, charts and functions pages, replays a dead letter, and checks that a
// plain user sees only their own orders: all in Chromium, with no page error. Outside CI, a
// machine without Chromium or Node skips it; under CI=true that is a failure.
func TestConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the whole stack and a browser")
	}
	root, err := manifests.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "internal", "console", "e2e")
	node := need(t, "node", "apt-get install nodejs npm")
	if out, err := exec.Command(node, "-p", "process.versions.node.split('.')[0] >= 20").Output(); err != nil || strings.TrimSpace(string(out)) != "true" {
		missing(t, "Node.js 20 or later (playwright-core's minimum)")
	}
	if _, err := os.Stat(chromium); err != nil {
		missing(t, chromium+" (apt-get install chromium)")
	}
	installPlaywright(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stack := startStack(t, root)
	anon := client.New(stack.GatewayURL, nil)
	admin, err := anon.SignIn(ctx, stack.AdminEmail, stack.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	const userEmail, userPassword = "shopper@console.test", "shopper-password"
	if _, err := anon.Signup(ctx, userEmail, userPassword); err != nil {
		t.Fatal(err)
	}
	const sku = "CONSOLE-BOOK"
	if _, err := admin.CreateItem(ctx, client.NewItem{SKU: sku, Name: "A book about sagas", PriceCents: 1250, Quantity: 50}); err != nil {
		t.Fatal(err)
	}
	deadLetterOrder := deadLetter(ctx, t, stack, admin)

	shots := filepath.Join(root, ".data", "console-e2e")
	if err := os.RemoveAll(shots); err != nil {
		t.Fatal(err)
	}
	// Shipping is held (SIGSTOP) until the browser has seen the order paid for and waiting to
	// ship: then the rest of the saga happens while the page is open, and the page must show it
	// without a reload. The browser says when ("resume shipping" on its stdout).
	if err := stack.Signal("shipping", syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resume := sync.OnceFunc(func() {
		if err := stack.Signal("shipping", syscall.SIGCONT); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(resume) // runs before the stack's Stop

	cmd := exec.CommandContext(ctx, node, "console.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"CONSOLE_URL="+stack.GatewayURL, "CHROMIUM="+chromium, "SCREENSHOTS="+shots,
		"ADMIN_EMAIL="+stack.AdminEmail, "ADMIN_PASSWORD="+stack.AdminPassword,
		"USER_EMAIL="+userEmail, "USER_PASSWORD="+userPassword,
		"SKU="+sku, "DEAD_LETTER_ORDER="+deadLetterOrder)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		stdout.WriteString(sc.Text() + "\n")
		if sc.Text() == "resume shipping" {
			resume()
		}
	}
	err = cmd.Wait()
	t.Logf("screenshots in %s", shots)
	if err != nil {
		t.Fatalf("the browser run failed (%v):\n%s%s", err, stderr.String(), stdout.String())
	}
	if !strings.Contains(stdout.String(), `"ok":true`) {
		t.Fatalf("the browser run did not report success:\n%s%s", stdout.String(), stderr.String())
	}
	for _, name := range []string{"signin.png", "order.png", "flow.png", "charts.png", "deadletters.png", "order-phone.png"} {
		if info, err := os.Stat(filepath.Join(shots, name)); err != nil || info.Size() == 0 {
			t.Errorf("screenshot %s missing: %v", name, err)
		}
	}
}

// need finds a program on PATH, or skips (fails under CI) naming what installs it.
func need(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name+" ("+install+")")
	}
	return p
}

func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("the browser test needs %s; .ci/run installs it", what)
	}
	t.Skipf("the browser test needs %s", what)
}

// installPlaywright runs npm ci when playwright-core is not installed yet (.ci/run does it first).
func installPlaywright(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err == nil {
		return
	}
	npm := need(t, "npm", "apt-get install npm")
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
}

// startStack starts the whole local stack on a database and a data folder of the test's own,
// with every payment succeeding, so the order the browser places completes.
func startStack(t *testing.T, root string) *local.Stack {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	stack, err := local.Start(context.Background(), local.Config{
		Root: root, DataDir: t.TempDir(), DatabaseURL: dbURL, KafkaPort: 0, // any free port, taken by the broker itself
		GatewayAddr: "127.0.0.1:0", PaymentSuccessRate: "1",
		AdminEmail: "admin@console.test", AdminPassword: "admin-password-console", Quiet: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Stop) // before the database is dropped
	return stack
}

// deadLetter publishes a TRANSACTION_FAILED from a source that may not send it: the order
// function refuses it (400), so its Trigger dead-letters it at once. It returns the event's
// order id once the dead letter is listed.
func deadLetter(ctx context.Context, t *testing.T, stack *local.Stack, admin *client.Client) string {
	t.Helper()
	order := uuid.NewString()
	e, err := events.New("console-e2e", events.TransactionFailedV1{OrderID: order, TransactionID: "t-1", AmountCents: 100, Reason: "payment_declined"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := kafka.Record(stack.Topic, e)
	if err != nil {
		t.Fatal(err)
	}
	producer, err := stack.Kafka.NewClient(kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for {
		dls, err := admin.DeadLetters(ctx, client.DeadLetterFilter{Order: order}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) == 1 {
			return order
		}
		select {
		case <-ctx.Done():
			t.Fatal(errors.New("the refused event was never dead-lettered"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
