package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/client"
)

func (a *app) topCmd() *cobra.Command {
	var watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Functions' instances, requests and latency, and Triggers' lag (local stack)",
		Long: `Show how the local stack ('make run') scales: per function its instances (ready of
starting or ready, and draining), what the autoscaler wants, requests in flight (including
those waiting for a cold start), requests per second, p50 and p99 latency of its latest
requests, and cold starts; per Trigger how many events it has still to deliver (lag).

The figures come from the stack's scaling status (GET /admin/scale on the gateway's address),
which it serves to this machine only. A cluster has 'kubectl get pods' and Knative's metrics.`,
		Example: `  ordersctl top
  ordersctl top --watch --interval 1s
  ordersctl top -o json | jq '.functions[] | {name, instances}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return usagef("--interval must be positive, not %s", interval)
			}
			cl, err := a.newClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			for {
				s, err := cl.Scale(ctx)
				if err != nil {
					var apiErr *client.Error
					if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
						return fmt.Errorf("top: %s has no scaling status: top needs the local stack (make run)", cl.BaseURL)
					}
					return fmt.Errorf("top: %w", err)
				}
				if err := a.emit(s, func(w io.Writer) { a.topTable(w, s) }); err != nil || !watch {
					return err
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(interval):
				}
			}
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "refresh every --interval until interrupted")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "time between refreshes with --watch")
	return cmd
}

// topTable prints the functions, then the Triggers.
func (a *app) topTable(w io.Writer, s client.ScaleStatus) {
	fmt.Fprintf(w, "%s  scaling %s\n\n", clock(time.Now()), s.Scaling)
	fns := &table{header: []string{"FUNCTION", "INSTANCES", "DESIRED", "MIN-MAX", "IN FLIGHT", "REQ/S", "P50", "P99", "COLD STARTS", "PEAK"}}
	for _, f := range s.Functions {
		instances := fmt.Sprintf("%d/%d", f.Ready, f.Instances)
		if f.Draining > 0 {
			instances += fmt.Sprintf(" +%d draining", f.Draining)
		}
		bounds := fmt.Sprintf("%d-%d", f.Min, f.Max)
		if f.Max == 0 {
			bounds = fmt.Sprintf("%d-", f.Min)
		}
		fns.add(f.Name, instances, f.Desired, bounds, f.InFlight, fmt.Sprintf("%.1f", f.RequestsPerS),
			fmt.Sprintf("%.1fms", f.P50Millis), fmt.Sprintf("%.1fms", f.P99Millis), f.ColdStarts, f.PeakInstances)
	}
	a.render(w, fns)
	fmt.Fprintln(w)
	triggers := &table{header: []string{"TRIGGER", "SUBSCRIBER", "LAG"}}
	for _, t := range s.Triggers {
		lag := fmt.Sprint(t.Lag)
		if t.Lag < 0 {
			lag = "?"
		}
		triggers.add(t.Name, t.Subscriber, lag)
	}
	a.render(w, triggers)
}
