package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/eventlog"
	"github.com/ordersaga/ordersaga/internal/events"
)

// TestSaga drives the whole system through the CLI, as a person would: accounts, items, a
// completed and a cancelled order, watched, traced and tailed. The steps share one stack and
// run in order; the golden files depend on that order (a fresh database, these items only).
func TestSaga(t *testing.T) {
	s := startStack(t)
	dir := t.TempDir()
	base := vars{"ORDERSCTL_SERVER": s.GatewayURL, "ORDERSCTL_KAFKA": strings.Join(s.KafkaBrokers, ","),
		"ORDERSCTL_TOPIC": s.Topic, "ORDERSAGA_DATA": stackData()}
	admin := base.with("ORDERSCTL_CONFIG", filepath.Join(dir, "admin", "config.json"))
	user := base.with("ORDERSCTL_CONFIG", filepath.Join(dir, "user", "config.json"))

	// Accounts.
	out := ok(t, user, "signup", "--email", "buyer@example.com", "--password", "correct horse battery")
	if !strings.Contains(out, "Signed up buyer@example.com (role user)") {
		t.Errorf("signup said %q", out)
	}
	// The hint works as printed, also in a script: the password comes from stdin.
	hint := regexp.MustCompile(`Next: ordersctl (.+)`).FindStringSubmatch(out)
	if hint == nil {
		t.Fatalf("signup printed no hint: %q", out)
	}
	if r := runStdin(t, user, "correct horse battery\n", strings.Fields(hint[1])...); r.code != 0 || !strings.Contains(r.stdout, "Logged in") {
		t.Fatalf("the signup hint %q: %s", hint[1], r)
	}
	ok(t, user.with("ORDERSCTL_PASSWORD", "correct horse battery"), "login", "--email", "buyer@example.com")
	checkConfigFile(t, user["ORDERSCTL_CONFIG"], s.GatewayURL)
	if out := ok(t, user, "whoami"); !strings.Contains(out, "buyer@example.com") || !strings.Contains(out, "user") {
		t.Errorf("whoami said %q", out)
	}
	ok(t, admin, "login", "--email", s.AdminEmail, "--password", s.AdminPassword)
	if r := run(t, admin, "login", "--email", s.AdminEmail, "--password", "wrong"); r.code != 1 || !strings.Contains(r.stderr, "invalid email or password") {
		t.Errorf("a wrong password: %s", r)
	}

	// Items: only an admin creates them.
	if r := run(t, user, "items", "create", "--sku", "BOOK-1", "--name", "A book", "--price", "12.50", "--quantity", "10"); r.code != 1 ||
		!strings.Contains(r.stderr, "Error: create item BOOK-1: admin role required: run ordersctl login as an admin\n") {
		t.Errorf("a user creating an item: %s", r)
	}
	ok(t, admin, "items", "create", "--sku", "BOOK-1", "--name", "A book", "--price", "12.50", "--quantity", "10")
	ok(t, admin, "items", "create", "--sku", "PEN-1", "--name", "Pen", "--price-cents", "199", "--quantity", "3")
	if r := run(t, admin, "items", "create", "--sku", "PEN-1", "--name", "Pen", "--price-cents", "199"); r.code != 1 {
		t.Errorf("a duplicate sku: %s", r)
	}
	golden(t, "items_list.golden", ok(t, user, "items", "list"))
	golden(t, "items_list_json.golden", ok(t, user, "items", "list", "-o", "json"))
	if out := ok(t, admin, "items", "get", "PEN-1", "-o", "yaml"); !strings.Contains(out, "price_cents: 199") {
		t.Errorf("items get -o yaml said %q", out)
	}

	// Tail everything from now on, in the background, until the nine types have passed: six of
	// the completed order, three of the cancelled one and one hand-written. Ctrl-C (the context)
	// ends it with exit code 0.
	tailOut, tailErr := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tailDone := make(chan result, 1)
	go func() {
		tailDone <- runCtx(ctx, admin, tailOut, tailErr, "events", "tail", "-o", "json")
	}()
	waitFor(t, tailErr, "Tailing")

	// A completed order, watched to the end.
	out = ok(t, user, "orders", "create", "--item", "BOOK-1=2", "--item", "PEN-1=1", "--watch", "--timeout", "30s")
	completed := regexp.MustCompile(`Order (\S+) placed`).FindStringSubmatch(out)
	if completed == nil {
		t.Fatalf("orders create --watch said %q", out)
	}
	for _, want := range []string{"status   COMPLETED", "ORDER_REQUESTED", "INVENTORY_RESERVED", "TRANSACTION_COMPLETED",
		"ORDER_ACCEPTED", "ORDER_SHIPPED", "ORDER_COMPLETED"} {
		if !strings.Contains(out, want) {
			t.Errorf("watch of a completed order lacks %s:\n%s", want, out)
		}
	}
	golden(t, "orders_get.golden", normalise(ok(t, user, "orders", "get", completed[1])))
	golden(t, "orders_get_json.golden", normalise(ok(t, user, "orders", "get", completed[1], "-o", "json")))

	// A cancelled order: more pens than there are.
	var placed client.Order
	if err := json.Unmarshal([]byte(ok(t, user, "orders", "create", "--item", "PEN-1=5", "-o", "json")), &placed); err != nil {
		t.Fatal(err)
	}
	// Watching it ends with exit code 3, so that a script can tell.
	r := run(t, user, "orders", "watch", placed.ID, "--timeout", "30s")
	if r.code != ExitCancelled || r.stderr != "" {
		t.Errorf("watch of a cancelled order: want exit %d and nothing on stderr; got %s", ExitCancelled, r)
	}
	out = r.stdout
	for _, want := range []string{"status   CANCELLED", "insufficient_stock", "INVENTORY_NOT_RESERVED", "ORDER_CANCELLED"} {
		if !strings.Contains(out, want) {
			t.Errorf("watch of a cancelled order lacks %s:\n%s", want, out)
		}
	}

	// TRANSACTION_FAILED cannot happen at a payment success rate of 1: send one by hand, for the
	// order already cancelled (the order function ignores it, as it must).
	ok(t, admin, "events", "send", "--type", "TRANSACTION_FAILED", "--source", "ordersctl-test",
		"--data", `{"order_id":"`+placed.ID+`","transaction_id":"t-1","amount_cents":995,"reason":"payment_declined"}`)

	for _, typ := range events.All {
		waitFor(t, tailOut, `"type":"`+string(typ)+`"`)
	}
	cancel()
	tail := <-tailDone
	if tail.code != 0 {
		t.Fatalf("events tail: %s", tail)
	}
	seen := map[string]int{}
	for line := range strings.Lines(tail.stdout) {
		var e struct {
			Type, Subject string
			Data          json.RawMessage
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("tail -o json printed %q: %v", line, err)
		}
		if !json.Valid(e.Data) || !strings.Contains(string(e.Data), e.Subject) {
			t.Errorf("tailed event data %s is not the order's JSON", e.Data)
		}
		seen[e.Type]++
	}
	for _, typ := range events.All {
		if seen[string(typ)] == 0 {
			t.Errorf("tail never showed %s (saw %v)", typ, seen)
		}
	}

	// Traces: every hop, in order, with latencies.
	out = ok(t, admin, "events", "trace", completed[1])
	out = out[strings.Index(out, "\nTIME"):] // the timeline, below the summary
	last := -1
	for _, typ := range []string{"ORDER_REQUESTED", "INVENTORY_RESERVED", "TRANSACTION_COMPLETED", "ORDER_ACCEPTED", "ORDER_SHIPPED", "ORDER_COMPLETED"} {
		i := strings.Index(out, typ)
		if i <= last {
			t.Errorf("trace shows %s out of order:\n%s", typ, out)
		}
		last = i
	}
	var tr eventlog.Trace
	if err := json.Unmarshal([]byte(ok(t, admin, "events", "trace", completed[1], "-o", "json")), &tr); err != nil {
		t.Fatal(err)
	}
	if len(tr.Events) != 6 {
		t.Fatalf("trace -o json has %d events, want 6: %+v", len(tr.Events), tr.Events)
	}
	for i, e := range tr.Events[1:] {
		if e.HopMS == nil || *e.HopMS < 0 || e.After == "" {
			t.Errorf("event %d (%s) has no hop latency: %+v", i+1, e.Type, e)
		}
	}
	out = ok(t, admin, "events", "trace", placed.ID)
	for _, want := range []string{"INVENTORY_NOT_RESERVED", "ORDER_CANCELLED", "TRANSACTION_FAILED", "ordersctl-test"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace of the cancelled order lacks %s:\n%s", want, out)
		}
	}
	if r := run(t, admin, "events", "tail", "--from-beginning", "--order", placed.ID, "--type", "ORDER_CANCELLED", "-n", "1"); r.code != 0 ||
		!strings.Contains(r.stdout, "ORDER_CANCELLED") || strings.Contains(r.stdout, "ORDER_REQUESTED") {
		t.Errorf("filtered tail: %s", r)
	}

	// Lists and stats.
	if out := ok(t, user, "orders", "list", "--status", "cancelled"); !strings.Contains(out, placed.ID) || strings.Contains(out, completed[1]) {
		t.Errorf("orders list --status cancelled said %q", out)
	}
	var st statsView
	if err := json.Unmarshal([]byte(ok(t, admin, "stats", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if !st.AllUsers || st.OrdersByStatus["COMPLETED"] != 1 || st.OrdersByStatus["CANCELLED"] != 1 || len(st.Items) != 2 {
		t.Errorf("stats: %+v", st)
	}
	if out := ok(t, admin, "stats"); !strings.Contains(out, "COMPLETED   1") {
		t.Errorf("stats said %q", out)
	}

	// Logging out forgets the token.
	ok(t, user, "logout")
	if r := run(t, user, "whoami"); r.code != 1 || !strings.Contains(r.stderr, "not logged in") || !strings.Contains(r.stderr, "ordersctl login") {
		t.Errorf("whoami after logout: %s", r)
	}
}

// checkConfigFile checks that the token is stored for the server, readable by its owner only.
func checkConfigFile(t *testing.T, path, server string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if l, ok := c.Servers[serverKey(server)]; !ok || l.AccessToken == "" || l.ExpiresAt.IsZero() {
		t.Errorf("config file has no login for %s: %s", server, b)
	}
}

// waitFor waits until buf holds want.
func waitFor(t *testing.T, buf *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20s for %q; got %q", want, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "00000000-0000-0000-0000-000000000000"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "2006-01-02T15:04:05Z"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ`), "2006-01-02 15:04:05Z"},
	{regexp.MustCompile(`TRK-[A-Z0-9]+`), "TRK-XXXXXXXX"},
}

// normalise replaces what differs from run to run: ids, times, tracking numbers.
func normalise(s string) string {
	for _, n := range normalisers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		gotLines, wantLines := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		i := 0
		for i < min(len(gotLines), len(wantLines)) && gotLines[i] == wantLines[i] {
			i++
		}
		t.Errorf("%s differs from the output (first at line %d; go test -update rewrites it)\ngot:\n%s\nwant:\n%s",
			path, i+1, got, want)
	}
}
