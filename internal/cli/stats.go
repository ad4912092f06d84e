package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// statsView is the stats command's result.
type statsView struct {
	Server         string         `json:"server"`
	AllUsers       bool           `json:"all_users"`
	OrdersCounted  int            `json:"orders_counted"`
	OrdersByStatus map[string]int `json:"orders_by_status"`
	Items          []itemView     `json:"items"`
}

var statuses = []string{"REQUESTED", "APPROVED", "COMPLETED", "CANCELLED"}

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
			var me userView
			if _, err := cl.do(ctx, "GET", "/me", nil, &me); err != nil {
				return err
			}
			var orders []orderView
			if _, err := cl.do(ctx, "GET", "/orders?limit=1000", nil, &orders); err != nil {
				return err
			}
			s := statsView{Server: cl.base, AllUsers: me.Role == "admin", OrdersCounted: len(orders), OrdersByStatus: map[string]int{}}
			for _, st := range statuses {
				s.OrdersByStatus[st] = 0
			}
			for _, o := range orders {
				s.OrdersByStatus[o.Status]++
			}
			if _, err := cl.do(ctx, "GET", "/items", nil, &s.Items); err != nil {
				return err
			}
			if s.Items == nil {
				s.Items = []itemView{}
			}
			return a.emitValue(s, func(w io.Writer) {
				whose := "your"
				if s.AllUsers {
					whose = "all users'"
				}
				fmt.Fprintf(w, "Orders (%s %d most recent)\n", whose, s.OrdersCounted)
				t := &table{header: []string{"STATUS", "COUNT", "SHARE"}}
				for _, st := range statuses {
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
