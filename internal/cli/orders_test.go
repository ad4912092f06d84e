package cli

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/client"
)

func TestOrdersCancel(t *testing.T) {
	g := newFakeGateway(t)
	v := g.loggedIn(t, fakeToken)
	g.addOrder("o-open", client.StatusRequested)
	g.addOrder("o-watched", client.StatusRequested)
	g.addOrder("o-paid", client.StatusApproved)

	// Completion offers only the orders that may still be cancelled.
	if out := ok(t, v, "__complete", "orders", "cancel", ""); !strings.Contains(out, "o-open\tREQUESTED") || strings.Contains(out, "o-paid") {
		t.Errorf("completing orders cancel offered:\n%s", out)
	}

	r := run(t, v, "orders", "cancel", "o-open")
	if r.code != 0 || !strings.Contains(r.stdout, "Cancellation of order o-open requested (status now REQUESTED)") ||
		!strings.Contains(r.stdout, "ordersctl orders watch o-open") {
		t.Errorf("orders cancel: %s", r)
	}
	if !slices.Contains(g.requests, "POST /orders/o-open/cancel body=") {
		t.Errorf("orders cancel sent %q, want a POST without a body", g.requests)
	}

	r = run(t, v, "orders", "cancel", "o-watched", "--watch")
	ended := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3}   status   CANCELLED                reason cancelled_by_user, 1\.0ms after it was placed$`)
	if r.code != ExitCancelled || !strings.Contains(r.stdout, "Cancellation of order o-watched requested.") || !ended.MatchString(r.stdout) {
		t.Errorf("orders cancel --watch: want exit %d and the CANCELLED status line; got %s", ExitCancelled, r)
	}

	r = run(t, v, "orders", "cancel", "o-paid")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "cancel order o-paid: order o-paid is APPROVED: too late to cancel (see ordersctl orders get o-paid)") {
		t.Errorf("cancelling a paid order: %s", r)
	}
	if r := run(t, v, "orders", "cancel", "o-nope"); r.code != ExitFailure || !strings.Contains(r.stderr, "cancel order o-nope: order not found") {
		t.Errorf("cancelling an unknown order: %s", r)
	}
	if r := run(t, v, "orders", "cancel"); r.code != ExitUsage {
		t.Errorf("orders cancel without an id: %s", r)
	}
}

func TestTooManyItemLines(t *testing.T) {
	var args []string
	for i := range 101 {
		args = append(args, "--item", fmt.Sprintf("SKU-%d=1", i))
	}
	r := run(t, offline(t), append([]string{"orders", "create"}, args...)...)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "Error: items: at most 100 lines: one --item per line\n") {
		t.Errorf("101 lines: %s", r)
	}
}

func TestWatchExitCodeSaysHowTheOrderEnded(t *testing.T) {
	g := newFakeGateway(t)
	v := g.loggedIn(t, fakeToken)
	g.addOrder("o-done", client.StatusCompleted)
	g.addOrder("o-cancelled", client.StatusCancelled)
	if r := run(t, v, "orders", "watch", "o-done"); r.code != ExitOK || !strings.Contains(r.stdout, "COMPLETED") {
		t.Errorf("watching a completed order: %s", r)
	}
	if r := run(t, v, "orders", "watch", "o-cancelled"); r.code != ExitCancelled || !strings.Contains(r.stdout, "CANCELLED") || r.stderr != "" {
		t.Errorf("watching a cancelled order: want exit %d, nothing on stderr; got %s", ExitCancelled, r)
	}
	for _, cmd := range [][]string{{"orders", "watch", "--help"}, {"orders", "create", "--help"}, {"orders", "cancel", "--help"}} {
		if out := ok(t, v, cmd...); !strings.Contains(out, "3 it ended CANCELLED") {
			t.Errorf("%s does not document exit code 3:\n%s", strings.Join(cmd, " "), out)
		}
	}
}

func TestItemFlagCompletesSKUs(t *testing.T) {
	g := newFakeGateway(t)
	g.items = []client.Item{{SKU: "BOOK-1", Name: "A book", Available: 4}, {SKU: "PEN-1", Name: "Pen"}}
	v := g.loggedIn(t, fakeToken)
	out := ok(t, v, "__complete", "orders", "create", "--item", "B")
	for _, want := range []string{"BOOK-1=\tA book, 4 available\n", "PEN-1=\t", "\n:6\n"} { // 6: no file, no space
		if !strings.Contains(out, want) {
			t.Errorf("completing --item lacks %q:\n%s", want, out)
		}
	}
	if out := ok(t, v, "__complete", "orders", "create", "--item", "BOOK-1="); strings.Contains(out, "PEN-1") {
		t.Errorf("completing a quantity offered skus:\n%s", out)
	}
}

func TestServerErrorsSayWhatToDoOnce(t *testing.T) {
	g := newFakeGateway(t)
	r := run(t, g.loggedIn(t, fakeToken), "items", "create", "--sku", "X-1", "--name", "x", "--price", "1")
	if want := "Error: create item X-1: admin role required: run ordersctl login as an admin\n"; r.code != ExitFailure || r.stderr != want {
		t.Errorf("a 403: want %q; got %s", want, r)
	}
	r = run(t, g.loggedIn(t, fakeToken), "orders", "get", "o-missing")
	if want := "Error: get order o-missing: order not found\n"; r.code != ExitFailure || r.stderr != want {
		t.Errorf("a 404: want %q; got %s", want, r)
	}
	r = run(t, g.loggedIn(t, "stale-token"), "items", "list")
	if want := "Error: list items: invalid token: the session is no longer valid: run ordersctl login\n"; r.code != ExitFailure || r.stderr != want {
		t.Errorf("a 401: want %q; got %s", want, r)
	}
}
