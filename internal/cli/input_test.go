package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// offline is an environment pointing at nothing that listens.
func offline(t *testing.T) vars {
	port, err := freePort() // free now, so nothing answers there
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return vars{"ORDERSCTL_SERVER": "http://" + addr, "ORDERSCTL_KAFKA": addr,
		"ORDERSCTL_CONFIG": filepath.Join(t.TempDir(), "config.json")}
}

func mustTime(t *testing.T, s string) time.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestBadInputIsAUsageError(t *testing.T) {
	v := offline(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"orders", "create"}, "at least one --item SKU=QTY"},
		{[]string{"orders", "create", "--item", "BOOK-1"}, `want SKU=QTY, for example --item BOOK-1=2`},
		{[]string{"orders", "create", "--item", "=2"}, `want SKU=QTY`},
		{[]string{"orders", "create", "--item", "BOOK 1=2"}, `not a valid sku`},
		{[]string{"orders", "create", "--item", "BOOK-1=two"}, `the quantity "two" is not a whole number`},
		{[]string{"orders", "create", "--item", "BOOK-1=-3"}, `--item "BOOK-1=-3": quantity: must be between 1 and 1000000`},
		{[]string{"orders", "create", "--item", "BOOK-1=0"}, "quantity: must be between 1 and 1000000"},
		{[]string{"orders", "create", "--item", "BOOK-1=1", "--item", "BOOK-1=2"}, `--item "BOOK-1=2": sku: BOOK-1 appears twice`},
		{[]string{"orders", "get"}, "takes one order ID"},
		{[]string{"orders", "frobnicate"}, `unknown command "frobnicate" for "ordersctl orders"`},
		{[]string{"nonsense"}, `unknown command "nonsense"`},
		{[]string{"items", "list", "--colour"}, "unknown flag: --colour"},
		{[]string{"items", "list", "-o", "xml"}, "--output must be table, json or yaml"},
		{[]string{"items", "create", "--sku", "B", "--name", "b", "--price", "1.234"}, "not an amount like 12.50"},
		{[]string{"items", "create", "--sku", "B", "--name", "b"}, "--price (like 12.50) or --price-cents is required"},
		{[]string{"items", "update", "B"}, "nothing to change"},
		{[]string{"login", "--email", "a@b.c"}, "a password is required"},
		{[]string{"events", "send", "--data", "{}"}, "--type is required"},
		{[]string{"events", "send", "--type", "X", "--data", "{nope"}, "--data is not valid JSON"},
		{[]string{"events", "send", "--type", "ORDER_SHIPPED", "--data", `{"order_id":"o-1"}`}, "tracking_id is required"},
		{[]string{"--server", "ftp://x", "login", "--email", "a@b.c", "--password", "p"}, "is not an http(s) URL"},
	} {
		r := run(t, v, tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "--help") {
			t.Errorf("ordersctl %s: want exit 2 and %q; got %s", strings.Join(tc.args, " "), tc.want, r)
		}
	}
}

func TestUnreachableServerSaysWhatToDo(t *testing.T) {
	v := offline(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"login", "--email", "a@b.c", "--password", "p"}, "login: cannot reach " + v["ORDERSCTL_SERVER"] + ": dial tcp"},
		{[]string{"login", "--email", "a@b.c", "--password", "p"}, "connection refused; is `make run` running?"},
		{[]string{"signup", "--email", "a@b.c", "--password", "p"}, "cannot reach"},
		{[]string{"items", "list"}, "not logged in to " + v["ORDERSCTL_SERVER"] + ": run ordersctl login"},
		{[]string{"orders", "create", "--item", "BOOK-1=1"}, "run ordersctl login"},
		{[]string{"events", "tail"}, "cannot reach Kafka at " + v["ORDERSCTL_KAFKA"] + " as an anonymous client: is `make run` running?"},
		{[]string{"events", "trace", "some-order"}, "cannot reach Kafka"},
	} {
		r := run(t, v, tc.args...)
		if r.code != ExitFailure || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "--help") {
			t.Errorf("ordersctl %s: want exit 1 and %q; got %s", strings.Join(tc.args, " "), tc.want, r)
		}
	}
}

func TestStoredTokenIsUsedAndExpiryIsExplained(t *testing.T) {
	v := offline(t)
	cfg := &Config{Servers: map[string]Login{serverKey(v["ORDERSCTL_SERVER"] + "/"): {Email: "a@b.c", AccessToken: "t"}}}
	if err := saveConfig(v["ORDERSCTL_CONFIG"], cfg); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(v["ORDERSCTL_CONFIG"]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", fi, err)
	}
	// Logged in (the key ignores a trailing slash), so the next problem is the server.
	if r := run(t, v, "items", "list"); r.code != 1 || !strings.Contains(r.stderr, "cannot reach") {
		t.Errorf("items list with a token: %s", r)
	}
	cfg.Servers[serverKey(v["ORDERSCTL_SERVER"])] = Login{AccessToken: "t", ExpiresAt: mustTime(t, "2001-01-01T00:00:00Z")}
	if err := saveConfig(v["ORDERSCTL_CONFIG"], cfg); err != nil {
		t.Fatal(err)
	}
	if r := run(t, v, "whoami"); r.code != 1 || !strings.Contains(r.stderr, "expired") || !strings.Contains(r.stderr, "run ordersctl login") {
		t.Errorf("whoami with an expired token: %s", r)
	}
	if r := run(t, v, "logout"); r.code != 0 || !strings.Contains(r.stdout, "Logged out") {
		t.Errorf("logout: %s", r)
	}
	if r := run(t, v, "logout"); r.code != 0 || !strings.Contains(r.stdout, "Not logged in") {
		t.Errorf("second logout: %s", r)
	}
}

func TestHelpCompletionAndKnPlugin(t *testing.T) {
	v := offline(t)
	out := ok(t, v, "--help")
	for _, want := range []string{"Account:", "signup", "orders", "events", "stats", "--server", "--kafka", "--topic", "completion"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
	root := NewRoot(nil, nil, Env{})
	for _, c := range root.Commands() {
		for _, sub := range append(c.Commands(), c) {
			if sub.Example == "" && sub.Name() != "completion" && sub.Name() != "help" && sub.Parent().Name() != "completion" {
				t.Errorf("%s has no examples in its help", sub.CommandPath())
			}
		}
	}
	if out := ok(t, v, "completion", "bash"); !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash said %.200q", out)
	}
	if out := ok(t, v, "__complete", "events", "tail", "--type", ""); !strings.Contains(out, "TRANSACTION_FAILED") {
		t.Errorf("completing --type said %q", out)
	}

	var stdout, stderr syncBuffer
	code := Run(t.Context(), []string{"orders", "--help"}, &stdout, &stderr, Env{Args0: "/usr/local/bin/kn-orders"})
	if code != 0 || !strings.Contains(stdout.String(), "kn orders orders create") {
		t.Errorf("as kn-orders, help said (exit %d) %q", code, stdout.String())
	}
}

func TestParseMoneyAndServerKey(t *testing.T) {
	for in, want := range map[string]int64{"12.50": 1250, "12.5": 1250, "12": 1200, "0.99": 99, "0": 0} {
		if got, err := parseMoney(in); err != nil || got != want {
			t.Errorf("parseMoney(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1.", ".5", "1.234", "-1", "1e3", "a"} {
		if _, err := parseMoney(bad); err == nil {
			t.Errorf("parseMoney(%q) succeeded", bad)
		}
	}
	if a, b := serverKey("HTTP://LocalHost:8080/"), serverKey("http://localhost:8080"); a != b {
		t.Errorf("serverKey: %q != %q", a, b)
	}
}
