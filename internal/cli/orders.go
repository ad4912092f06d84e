package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/events"
)

func (a *app) ordersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "orders",
		Aliases: []string{"order"},
		Short:   "Place orders and follow them through the saga",
		Example: `  ordersctl orders create --item BOOK-1=2 --item PEN-1=1 --watch
  ordersctl orders list
  ordersctl orders watch 3f0c1d9e-...
  ordersctl orders cancel 3f0c1d9e-...`,
	}
	cmd.AddCommand(a.ordersCreateCmd(), a.ordersGetCmd(), a.ordersListCmd(), a.ordersWatchCmd(), a.ordersCancelCmd())
	return group(cmd)
}

// parseLines reads --item SKU=QTY flags and checks them with the event contract's own rules
// (events.ValidateLines), so that a typo is a usage error before anything is sent.
func parseLines(specs []string) ([]client.Line, error) {
	if len(specs) == 0 {
		return nil, usagef("at least one --item SKU=QTY is required, for example --item BOOK-1=2")
	}
	lines := make([]events.Line, 0, len(specs))
	for _, spec := range specs {
		sku, qty, ok := strings.Cut(spec, "=")
		sku, qty = strings.TrimSpace(sku), strings.TrimSpace(qty)
		if !ok || sku == "" || qty == "" {
			return nil, usagef("--item %q: want SKU=QTY, for example --item BOOK-1=2", spec)
		}
		n, err := strconv.ParseInt(qty, 10, 64)
		if err != nil {
			return nil, usagef("--item %q: the quantity %q is not a whole number", spec, qty)
		}
		lines = append(lines, events.Line{SKU: sku, Quantity: n})
	}
	if err := events.ValidateLines(lines); err != nil {
		var bad *events.LineError
		if errors.As(err, &bad) {
			return nil, usagef("--item %q: %v", specs[bad.Index], bad.Err)
		}
		return nil, usagef("%v: one --item per line", err)
	}
	out := make([]client.Line, len(lines))
	for i, l := range lines {
		out[i] = client.Line(l)
	}
	return out, nil
}

func (a *app) ordersCreateCmd() *cobra.Command {
	var items []string
	var key string
	var w watchFlags
	cmd := &cobra.Command{
		Use:   "create --item SKU=QTY [--item SKU=QTY ...]",
		Short: "Place an order",
		Long: `Place an order. The server answers at once with the order in status REQUESTED; the saga
then reserves stock, charges and ships it. Pass --watch to follow it to the end.` + watchExitCodes,
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
			o, err := cl.PlaceOrder(cmd.Context(), lines, key)
			if err != nil {
				return fmt.Errorf("create order: %w", err)
			}
			if w.watch {
				if a.output == "table" {
					fmt.Fprintf(a.stdout, "Order %s placed.\n", o.ID)
				}
				return a.watch(cmd.Context(), cl, o.ID, w.timeout)
			}
			return a.emit(o, func(out io.Writer) {
				a.orderDetails(out, o)
				fmt.Fprintf(out, "\nFollow it: %s orders watch %s\n", a.name, o.ID)
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&items, "item", "i", nil, "an order line as SKU=QTY, e.g. BOOK-1=2 (repeatable)")
	f.StringVar(&key, "idempotency-key", "", "a key that makes retrying this request safe: the same key returns the same order")
	w.flags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("item", a.completeItemLines)
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
			o, err := cl.Order(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("get order %s: %w", args[0], err)
			}
			return a.emit(o, func(w io.Writer) { a.orderDetails(w, o) })
		},
	}
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
			orders, err := cl.Orders(cmd.Context(), limit)
			if err != nil {
				return fmt.Errorf("list orders: %w", err)
			}
			if status != "" {
				kept := []client.Order{}
				for _, o := range orders {
					if o.Status == status {
						kept = append(kept, o)
					}
				}
				orders = kept
			}
			return a.emit(orders, func(w io.Writer) {
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
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(client.Statuses, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (a *app) ordersCancelCmd() *cobra.Command {
	var w watchFlags
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Ask to cancel an order that is not paid for yet",
		Long: `Ask to cancel one of your orders. The saga decides: the order ends CANCELLED, and its stock is
released, unless its payment has already gone through; a paid order is never cancelled. An order
that is already paid for, COMPLETED or CANCELLED cannot be cancelled (exit code 1). Pass --watch to
follow the order to its end.` + watchExitCodes,
		Example: `  ordersctl orders cancel 3f0c1d9e-...
  ordersctl orders cancel 3f0c1d9e-... --watch`,
		Args:              exactArgs(1, "one order ID"),
		ValidArgsFunction: a.completeOrdersIn(client.StatusRequested), // only those that may still be cancelled
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			o, err := cl.CancelOrder(cmd.Context(), id)
			if client.StatusOf(err) == http.StatusConflict {
				return fmt.Errorf("cancel order %s: %w (see %s orders get %s)", id, err, a.name, id)
			}
			if err != nil {
				return fmt.Errorf("cancel order %s: %w", id, err)
			}
			if w.watch {
				if a.output == "table" {
					fmt.Fprintf(a.stdout, "Cancellation of order %s requested.\n", id)
				}
				return a.watch(cmd.Context(), cl, id, w.timeout)
			}
			return a.emit(o, func(out io.Writer) {
				fmt.Fprintf(out, "Cancellation of order %s requested (status now %s).\nFollow it: %s orders watch %s\n",
					id, o.Status, a.name, id)
			})
		},
	}
	w.flags(cmd)
	return cmd
}

func linesText(lines []client.Line) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = fmt.Sprintf("%s=%d", l.SKU, l.Quantity)
	}
	return strings.Join(parts, ",")
}

func (a *app) orderDetails(w io.Writer, o client.Order) {
	total := money(o.TotalCents)
	if !o.InventoryReserved && o.TotalCents == 0 && o.Status == client.StatusRequested {
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

// completeOrders completes order ids from the server, when logged in.
func (a *app) completeOrders(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return a.completeOrdersIn()(cmd, args, toComplete)
}

// completeOrdersIn completes the ids of orders in one of statuses (any status when none given).
func (a *app) completeOrdersIn(statuses ...string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cl, err := a.authedClient()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		orders, err := cl.Orders(cmd.Context(), 50)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, o := range orders {
			if len(statuses) == 0 || slices.Contains(statuses, o.Status) {
				out = append(out, o.ID+"\t"+o.Status+" "+linesText(o.Items))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
