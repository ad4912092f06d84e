package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/events"
)

func (a *app) itemsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "items",
		Aliases: []string{"item"},
		Short:   "Create, change and list the items for sale (creating and changing needs an admin)",
		Example: `  ordersctl items list
  ordersctl items create --sku BOOK-1 --name "A book" --price 12.50 --quantity 10`,
	}
	cmd.AddCommand(a.itemsCreateCmd(), a.itemsUpdateCmd(), a.itemsListCmd(), a.itemsGetCmd())
	return group(cmd)
}

// price is the --price flag: a decimal amount in the currency's main unit, kept in cents.
type price struct {
	cents int64
	set   bool
}

func (p *price) String() string {
	if !p.set {
		return ""
	}
	return money(p.cents)
}
func (p *price) Type() string { return "amount" }
func (p *price) Set(s string) error {
	cents, err := parseMoney(s)
	if err != nil {
		return err
	}
	p.cents, p.set = cents, true
	return nil
}

// parseMoney reads 12, 12.5 or 12.50 as cents, exactly (no floating point).
func parseMoney(s string) (int64, error) {
	whole, frac, hasFrac := strings.Cut(strings.TrimSpace(s), ".")
	if hasFrac && (len(frac) == 0 || len(frac) > 2) || whole == "" {
		return 0, fmt.Errorf("%q is not an amount like 12.50", s)
	}
	w, err := strconv.ParseUint(whole, 10, 62)
	if err != nil {
		return 0, fmt.Errorf("%q is not an amount like 12.50", s)
	}
	var f uint64
	if hasFrac {
		if f, err = strconv.ParseUint(frac, 10, 8); err != nil {
			return 0, fmt.Errorf("%q is not an amount like 12.50", s)
		}
		if len(frac) == 1 {
			f *= 10
		}
	}
	return int64(w*100 + f), nil
}

func (a *app) itemsCreateCmd() *cobra.Command {
	var sku, name string
	var p price
	var priceCents, quantity int64
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an item (admin)",
		Example: `  ordersctl items create --sku BOOK-1 --name "A book" --price 12.50 --quantity 10
  ordersctl items create --sku PEN-1 --name Pen --price-cents 199 --quantity 100 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !events.ValidSKU(sku) {
				return usagef("--sku %q is not a valid sku (1-64 letters, digits, '.', '_' or '-', starting with a letter or digit)", sku)
			}
			if name == "" {
				return usagef("--name is required")
			}
			if cmd.Flags().Changed("price-cents") {
				p = price{cents: priceCents, set: true}
			}
			if !p.set || p.cents < 0 {
				return usagef("--price (like 12.50) or --price-cents is required and must not be negative")
			}
			if quantity < 0 {
				return usagef("--quantity must not be negative")
			}
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			it, err := cl.CreateItem(cmd.Context(), client.NewItem{SKU: sku, Name: name, PriceCents: p.cents, Quantity: quantity})
			if err != nil {
				return fmt.Errorf("create item %s: %w", sku, err)
			}
			return a.emit(it, func(w io.Writer) { a.itemTable(w, it) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&sku, "sku", "", "the stock-keeping unit, e.g. BOOK-1 (required)")
	f.StringVar(&name, "name", "", "the item's name (required)")
	f.Var(&p, "price", "the price, e.g. 12.50")
	f.Int64Var(&priceCents, "price-cents", 0, "the price in cents, instead of --price")
	f.Int64Var(&quantity, "quantity", 0, "the stock on hand")
	cmd.MarkFlagsMutuallyExclusive("price", "price-cents")
	return cmd
}

func (a *app) itemsUpdateCmd() *cobra.Command {
	var name string
	var p price
	var priceCents, quantity int64
	cmd := &cobra.Command{
		Use:   "update SKU",
		Short: "Change an item's name, price or stock on hand (admin)",
		Example: `  ordersctl items update BOOK-1 --quantity 25
  ordersctl items update BOOK-1 --price 9.99 --name "A cheaper book"`,
		Args:              exactArgs(1, "one SKU"),
		ValidArgsFunction: a.completeSKUs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var change client.ItemUpdate
			f := cmd.Flags()
			if f.Changed("name") {
				change.Name = &name
			}
			if f.Changed("price-cents") {
				p = price{cents: priceCents, set: true}
			}
			if p.set {
				if p.cents < 0 {
					return usagef("--price and --price-cents must not be negative")
				}
				change.PriceCents = &p.cents
			}
			if f.Changed("quantity") {
				if quantity < 0 {
					return usagef("--quantity must not be negative")
				}
				change.Quantity = &quantity
			}
			if change == (client.ItemUpdate{}) {
				return usagef("nothing to change: give --name, --price, --price-cents or --quantity")
			}
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			it, err := cl.UpdateItem(cmd.Context(), args[0], change)
			if err != nil {
				return fmt.Errorf("update item %s: %w", args[0], err)
			}
			return a.emit(it, func(w io.Writer) { a.itemTable(w, it) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the new name")
	f.Var(&p, "price", "the new price, e.g. 12.50")
	f.Int64Var(&priceCents, "price-cents", 0, "the new price in cents, instead of --price")
	f.Int64Var(&quantity, "quantity", 0, "the new stock on hand")
	cmd.MarkFlagsMutuallyExclusive("price", "price-cents")
	return cmd
}

func (a *app) itemsListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the items with their price and stock",
		Example: `  ordersctl items list
  ordersctl items list -o yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			items, err := cl.Items(cmd.Context())
			if err != nil {
				return fmt.Errorf("list items: %w", err)
			}
			return a.emit(items, func(w io.Writer) { a.itemTable(w, items...) })
		},
	}
}

func (a *app) itemsGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "get SKU",
		Short:             "Show one item",
		Example:           `  ordersctl items get BOOK-1`,
		Args:              exactArgs(1, "one SKU"),
		ValidArgsFunction: a.completeSKUs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			it, err := cl.Item(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("get item %s: %w", args[0], err)
			}
			return a.emit(it, func(w io.Writer) { a.itemTable(w, it) })
		},
	}
}

func (a *app) itemTable(w io.Writer, items ...client.Item) {
	t := &table{header: []string{"SKU", "NAME", "PRICE", "AVAILABLE", "RESERVED", "SOLD"}}
	for _, it := range items {
		avail := cell{text: strconv.FormatInt(it.Available, 10)}
		if it.Available == 0 {
			avail.colour = red
		}
		t.add(it.SKU, it.Name, money(it.PriceCents), avail, it.Reserved, it.Sold)
	}
	a.render(w, t)
}

// completeSKUs completes an item's SKU argument from the server, when logged in.
func (a *app) completeSKUs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, it := range a.itemsForCompletion(cmd) {
		out = append(out, it.SKU+"\t"+it.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeItemLines completes --item SKU=QTY up to the "=": the user types the quantity.
func (a *app) completeItemLines(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.Contains(toComplete, "=") {
		return nil, cobra.ShellCompDirectiveNoFileComp // the quantity: nothing to offer
	}
	var out []string
	for _, it := range a.itemsForCompletion(cmd) {
		out = append(out, fmt.Sprintf("%s=\t%s, %d available", it.SKU, it.Name, it.Available))
	}
	// No space after "SKU=", so the quantity follows it directly.
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// itemsForCompletion lists the items, or none when not logged in or the server does not answer:
// completion never prints an error.
func (a *app) itemsForCompletion(cmd *cobra.Command) []client.Item {
	cl, err := a.authedClient()
	if err != nil {
		return nil
	}
	items, err := cl.Items(cmd.Context())
	if err != nil {
		return nil
	}
	return items
}
