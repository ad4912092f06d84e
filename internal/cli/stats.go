package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/client"
)

// statsView is the stats command's result.
type statsView struct {
	Server         string         `json:"server"`
	AllUsers       bool           `json:"all_users"`
	OrdersCounted  int            `json:"orders_counted"`
	OrdersByStatus map[string]int `json:"orders_by_status"`
	Items          []client.Item  `json:"items"`
}

func (a *app) statsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Orders by status and stock levels",
		Long: `Count the most recent orders (up to 1000) by status and show every item's stock: available,
reserved and sold. Run it as an admin to count everyone's orders; other users see their own.`,
		Example: `  ordersctl stats
  ordersctl stats -o json | jq .orders_by_status`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			me, err := cl.Me(ctx)
			if err != nil {
				return fmt.Errorf("stats: %w", err)
			}
			orders, err := cl.Orders(ctx, 1000)
			if err != nil {
				return fmt.Errorf("stats: %w", err)
			}
			s := statsView{Server: cl.BaseURL, AllUsers: me.Role == "admin", OrdersCounted: len(orders), OrdersByStatus: map[string]int{}}
			for _, st := range client.Statuses {
				s.OrdersByStatus[st] = 0
			}
			for _, o := range orders {
				s.OrdersByStatus[o.Status]++
			}
			if s.Items, err = cl.Items(ctx); err != nil {
				return fmt.Errorf("stats: %w", err)
			}
			if s.Items == nil {
				s.Items = []client.Item{}
			}
			return a.emit(s, func(w io.Writer) {
				whose := "your"
				if s.AllUsers {
					whose = "all users'"
				}
				fmt.Fprintf(w, "Orders (%s %d most recent)\n", whose, s.OrdersCounted)
				t := &table{header: []string{"STATUS", "COUNT", "SHARE"}}
				for _, st := range client.Statuses {
					share := "-"
					if s.OrdersCounted > 0 {
						share = fmt.Sprintf("%.0f%%", 100*float64(s.OrdersByStatus[st])/float64(s.OrdersCounted))
					}
					t.add(cell{st, statusColour(st)}, s.OrdersByStatus[st], share)
				}
				a.render(w, t)
				var units, reserved, sold int64
				for _, it := range s.Items {
					units, reserved, sold = units+it.Available, reserved+it.Reserved, sold+it.Sold
				}
				fmt.Fprintf(w, "\nStock (%d items: %d available, %d reserved, %d sold)\n", len(s.Items), units, reserved, sold)
				a.itemTable(w, s.Items...)
			})
		},
	}
	return cmd
}
