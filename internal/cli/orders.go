package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/events"
)

func (a *app) ordersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "orders",
		Aliases: []string{"order"},
		Short:   "Place orders and follow them through the saga",
		Example: `  ordersctl orders create --item BOOK-1=2 --item PEN-1=1 --watch
  ordersctl orders list
  ordersctl orders watch 3f0c1d9e-...`,
	}
	cmd.AddCommand(a.ordersCreateCmd(), a.ordersGetCmd(), a.ordersListCmd(), a.ordersWatchCmd())
	return group(cmd)
}

// parseLines reads --item SKU=QTY flags, checking them as the server would, so that a typo is
// a usage error before anything is sent.
func parseLines(specs []string) ([]lineView, error) {
	if len(specs) == 0 {
		return nil, usagef("at least one --item SKU=QTY is required, for example --item BOOK-1=2")
	}
	if len(specs) > events.MaxLines {
		return nil, usagef("at most %d --item lines in one order", events.MaxLines)
	}
	seen := map[string]bool{}
	lines := make([]lineView, 0, len(specs))
	for _, spec := range specs {
		sku, qty, ok := strings.Cut(spec, "=")
		sku, qty = strings.TrimSpace(sku), strings.TrimSpace(qty)
		if !ok || sku == "" || qty == "" {
			return nil, usagef("--item %q: want SKU=QTY, for example --item BOOK-1=2", spec)
		}
		if !events.ValidSKU(sku) {
			return nil, usagef("--item %q: %q is not a valid sku (1-64 letters, digits, '.', '_' or '-', starting with a letter or digit)", spec, sku)
		}
		n, err := strconv.ParseInt(qty, 10, 64)
		if err != nil {
			return nil, usagef("--item %q: the quantity %q is not a whole number", spec, qty)
		}
		if n < 1 {
			return nil, usagef("--item %q: the quantity must be positive, got %d", spec, n)
		}
		if n > events.MaxQuantity {
			return nil, usagef("--item %q: the quantity must be at most %d", spec, events.MaxQuantity)
		}
		if seen[sku] {
			return nil, usagef("--item %s is given twice: put the whole quantity in one --item", sku)
		}
		seen[sku] = true
		lines = append(lines, lineView{SKU: sku, Quantity: n})
	}
	return lines, nil
}

func (a *app) ordersCreateCmd() *cobra.Command {
	var items []string
	var key string
	var watch bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "create --item SKU=QTY [--item SKU=QTY ...]",
		Short: "Place an order",
		Long: `Place an order. The server answers at once with the order in status REQUESTED; the saga
then reserves stock, charges and ships it. Pass --watch to follow it to the end.`,
		Example: `  ordersctl orders create --item BOOK-1=2
  ordersctl orders create --item BOOK-1=1 --item PEN-1=3 --watch
  ordersctl orders create --item BOOK-1=1 --idempotency-key checkout-42   # safe to repeat`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			lines, err := parseLines(items)
			if err != nil {
				return err
			}
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			var header []string
			if key != "" {
				header = []string{"Idempotency-Key", key}
			}
			var o orderView
			raw, err := cl.do(cmd.Context(), "POST", "/orders", map[string]any{"items": lines}, &o, header...)
			if err != nil {
				return fmt.Errorf("create order: %w", err)
			}
			if watch {
				if a.output == "table" {
					fmt.Fprintf(a.stdout, "Order %s placed.\n", o.ID)
				}
				return a.watch(cmd.Context(), cl, o.ID, timeout)
			}
			return a.emit(raw, func(w io.Writer) {
				a.orderDetails(w, o)
				fmt.Fprintf(w, "\nFollow it: %s orders watch %s\n", cmd.Root().CommandPath(), o.ID)
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&items, "item", "i", nil, "an order line as SKU=QTY, e.g. BOOK-1=2 (repeatable)")
	f.StringVar(&key, "idempotency-key", "", "a key that makes retrying this request safe: the same key returns the same order")
	f.BoolVarP(&watch, "watch", "w", false, "follow the order until it is COMPLETED or CANCELLED")
	f.DurationVar(&timeout, "timeout", 2*time.Minute, "with --watch, how long to wait for the end")
	return cmd
}

func (a *app) ordersGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "get ID",
		Short:             "Show one order",
		Example:           `  ordersctl orders get 3f0c1d9e-...  -o json`,
		Args:              exactArgs(1, "one order ID"),
		ValidArgsFunction: a.completeOrders,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			o, raw, err := getOrder(cmd.Context(), cl, args[0])
			if err != nil {
				return err
			}
			return a.emit(raw, func(w io.Writer) { a.orderDetails(w, o) })
		},
	}
}

func getOrder(ctx context.Context, cl *client, id string) (orderView, []byte, error) {
	var o orderView
	raw, err := cl.do(ctx, "GET", "/orders/"+url.PathEscape(id), nil, &o)
	if err != nil {
		return o, nil, fmt.Errorf("order %s: %w", id, err)
	}
	return o, raw, nil
}

func (a *app) ordersListCmd() *cobra.Command {
	var limit int
	var status string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List orders, newest first (an admin sees everyone's)",
		Example: `  ordersctl orders list
  ordersctl orders list --status CANCELLED --limit 500`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 1000 {
				return usagef("--limit must be between 1 and 1000")
			}
			status = strings.ToUpper(status)
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			var orders []orderView
			raw, err := cl.do(cmd.Context(), "GET", "/orders?limit="+strconv.Itoa(limit), nil, &orders)
			if err != nil {
				return err
			}
			if status != "" {
				kept := orders[:0]
				for _, o := range orders {
					if o.Status == status {
						kept = append(kept, o)
					}
				}
				orders = kept
				if raw, err = json.Marshal(orders); err != nil {
					return err
				}
			}
			return a.emit(raw, func(w io.Writer) {
				t := &table{header: []string{"ID", "STATUS", "ITEMS", "TOTAL", "CREATED"}}
				for _, o := range orders {
					t.add(o.ID, cell{o.Status, statusColour(o.Status)}, linesText(o.Items), money(o.TotalCents), timestamp(o.CreatedAt))
				}
				a.render(w, t)
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many orders (1-1000)")
	cmd.Flags().StringVar(&status, "status", "", "only orders in this status: REQUESTED, APPROVED, COMPLETED or CANCELLED")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(
		[]string{"REQUESTED", "APPROVED", "COMPLETED", "CANCELLED"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func linesText(lines []lineView) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = fmt.Sprintf("%s=%d", l.SKU, l.Quantity)
	}
	return strings.Join(parts, ",")
}

func (a *app) orderDetails(w io.Writer, o orderView) {
	total := money(o.TotalCents)
	if !o.InventoryReserved && o.TotalCents == 0 && o.Status == "REQUESTED" {
		total = "- (known once stock is reserved)"
	}
	pairs := []any{"ID", o.ID, "Status", cell{o.Status, statusColour(o.Status)}, "Items", linesText(o.Items),
		"Total", total, "Reserved", yesNo(o.InventoryReserved)}
	if o.CancelReason != "" {
		pairs = append(pairs, "Reason", o.CancelReason)
	}
	if o.TrackingID != "" {
		pairs = append(pairs, "Tracking", o.TrackingID)
	}
	pairs = append(pairs, "User", o.UserID, "Created", timestamp(o.CreatedAt), "Updated", timestamp(o.UpdatedAt))
	a.details(w, pairs...)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (a *app) ordersWatchCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "watch ID",
		Short: "Follow an order until it is COMPLETED or CANCELLED, showing each step",
		Long: `Follow an order until it reaches a terminal state, printing each status change as it happens.
When Kafka (--kafka) is reachable, the saga's events for the order are shown as they pass too.
Ctrl-C stops watching; the order goes on.`,
		Example: `  ordersctl orders watch 3f0c1d9e-...
  ordersctl orders watch 3f0c1d9e-... -o json   # one JSON object per step`,
		Args:              exactArgs(1, "one order ID"),
		ValidArgsFunction: a.completeOrders,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			return a.watch(cmd.Context(), cl, args[0], timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long (exit code 1)")
	return cmd
}

// watchStep is one line of orders watch: a status change or an event.
type watchStep struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"` // status or event
	Status string    `json:"status,omitempty"`
	Type   string    `json:"type,omitempty"`
	Source string    `json:"source,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// watch polls the order (and, when Kafka answers, follows its events) until it is terminal.
func (a *app) watch(ctx context.Context, cl *client, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	o, _, err := getOrder(ctx, cl, id)
	if err != nil {
		return err
	}
	sp := a.newSpinner()
	defer sp.stop()
	print := func(s watchStep) {
		if a.output != "table" {
			b, _ := json.Marshal(s)
			sp.println(string(b))
			return
		}
		what := cell{s.Status, statusColour(s.Status)}
		if s.Kind == "event" {
			what = cell{s.Type, eventColour(s.Type)}
		}
		pad := strings.Repeat(" ", max(0, 24-len(what.text)))
		rest := strings.TrimSpace(fmt.Sprintf("%-20s  %s", s.Source, s.Detail))
		line := fmt.Sprintf("%s  %-6s  %s%s%s", clock(s.Time), s.Kind, a.paint(what.colour, what.text), pad, rest)
		sp.println(strings.TrimRight(line, " "))
	}

	// Events, when Kafka answers: read from shortly before the order was created, so that steps
	// already taken are shown too.
	evc := make(chan followed, 64)
	following := false
	if r, err := a.newReader(ctx); err == nil {
		defer r.close()
		from := o.CreatedAt.Add(-5 * time.Second)
		if err := r.startAt(ctx, from); err == nil {
			following = true
			go r.follow(ctx, id, evc)
		}
	}
	if a.output == "table" {
		how := "polling " + cl.base
		if following {
			how += ", events from " + a.kafka
		}
		fmt.Fprintf(a.stdout, "Watching order %s (%s). Ctrl-C stops watching.\n", id, how)
	}

	status := o.Status
	initial := watchStep{Time: o.UpdatedAt, Kind: "status", Status: o.Status, Detail: statusDetail(o)}
	if terminal(status) && following {
		// Already over: show how it went, then how it ended.
		defer func() { print(initial) }()
	} else {
		print(initial)
	}
	sp.set(status)
	poll := time.NewTicker(150 * time.Millisecond)
	defer poll.Stop()
	var grace <-chan time.Time // after the terminal status: time for its event to arrive
	sawEnd := false
	for {
		if terminal(status) && (!following || sawEnd) {
			return nil
		}
		if terminal(status) && grace == nil {
			grace = time.After(2 * time.Second)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("order %s is still %s after %s: is the saga running? (ordersctl events trace %s shows how far it got)", id, status, timeout, id)
			}
			return ctx.Err()
		case <-grace:
			return nil
		case f := <-evc:
			print(watchStep{Time: f.time, Kind: "event", Type: f.event.Type(), Source: f.event.Source(), Detail: eventDetail(f.event)})
			if t := f.event.Type(); t == string(events.OrderCompleted) || t == string(events.OrderCancelled) {
				sawEnd = true
			}
		case <-poll.C:
			if terminal(status) {
				continue
			}
			next, _, err := getOrder(ctx, cl, id)
			if err != nil {
				if ctx.Err() != nil {
					continue
				}
				return err
			}
			if next.Status != status {
				status = next.Status
				sp.set(status)
				print(watchStep{Time: next.UpdatedAt, Kind: "status", Status: next.Status, Detail: statusDetail(next)})
			}
		}
	}
}

// statusDetail is what a status line adds: the reason, tracking, the time the saga took.
func statusDetail(o orderView) string {
	switch o.Status {
	case "APPROVED":
		return "paid " + money(o.TotalCents)
	case "COMPLETED":
		d := "shipped"
		if o.TrackingID != "" {
			d += ", tracking " + o.TrackingID
		}
		return d + ", " + ms(o.UpdatedAt.Sub(o.CreatedAt)) + " after it was placed"
	case "CANCELLED":
		return "reason " + o.CancelReason + ", " + ms(o.UpdatedAt.Sub(o.CreatedAt)) + " after it was placed"
	}
	return ""
}

// completeOrders completes order ids from the server, when logged in.
func (a *app) completeOrders(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cl, err := a.authedClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var orders []orderView
	if _, err := cl.do(cmd.Context(), "GET", "/orders?limit=50", nil, &orders); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, o := range orders {
		out = append(out, o.ID+"\t"+o.Status+" "+linesText(o.Items))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
