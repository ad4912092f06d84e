package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/eventlog"
	"github.com/ordersaga/ordersaga/internal/events"
)

// watchExitCodes is the part of the help of every command that watches an order, so that a
// script can tell how the order ended.
const watchExitCodes = `

Exit codes when watching: 0 the order is COMPLETED, 3 it ended CANCELLED, 1 an error or
--timeout passed first.`

// watchFlags are --watch and --timeout of the commands that can follow an order to its end.
type watchFlags struct {
	watch   bool
	timeout time.Duration
}

func (w *watchFlags) flags(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&w.watch, "watch", "w", false, "follow the order until it is COMPLETED (exit 0) or CANCELLED (exit 3)")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 2*time.Minute, "with --watch, how long to wait for the end (exit 1 after it)")
}

func (a *app) ordersWatchCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "watch ID",
		Short: "Follow an order until it is COMPLETED or CANCELLED, showing each step",
		Long: `Follow an order until it reaches a terminal state, printing each status change as it happens.
When Kafka (--kafka) is reachable, the saga's events for the order are shown as they pass too.
Ctrl-C stops watching; the order goes on.` + watchExitCodes,
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
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long (exit 1)")
	return cmd
}

// watchColumns are the widths of a watch line: time, kind, type or status, source, detail.
var watchColumns = []int{12, 6, 22, 19}

// watchStep is one line of orders watch: a status change or an event.
type watchStep struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"` // status or event
	Status string    `json:"status,omitempty"`
	Type   string    `json:"type,omitempty"`
	Source string    `json:"source,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// watch polls the order (and, when Kafka answers, follows its events) until it is terminal. It
// returns nil when the order is COMPLETED and exit code ExitCancelled when it is CANCELLED.
func (a *app) watch(ctx context.Context, cl *client.Client, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	o, err := cl.Order(ctx, id)
	if err != nil {
		return fmt.Errorf("watch order %s: %w", id, err)
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
		line := cells(clock(s.Time), s.Kind, what, s.Source, s.Detail)
		if s.Source == "" {
			line = cells(clock(s.Time), s.Kind, what, s.Detail) // a status: its detail where sources go
		}
		sp.println(a.row(watchColumns, line))
	}

	// Events, when Kafka answers: read from shortly before the order was created, so that steps
	// already taken are shown too.
	evc := make(chan eventlog.Entry, 64)
	following := false
	if r, err := a.newReader(ctx); err == nil {
		defer r.Close()
		from := o.CreatedAt.Add(-5 * time.Second)
		if err := r.SeekTime(ctx, from); err == nil {
			following = true
			go r.Follow(ctx, id, evc)
		}
	}
	if a.output == "table" {
		how := "polling " + cl.BaseURL
		if following {
			how += ", events from " + a.kafka
		}
		fmt.Fprintf(a.stdout, "Watching order %s (%s). Ctrl-C stops watching.\n", id, how)
	}

	status := o.Status
	initial := watchStep{Time: o.UpdatedAt, Kind: "status", Status: o.Status, Detail: statusDetail(o)}
	if client.Terminal(status) && following {
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
		if client.Terminal(status) && (!following || sawEnd) {
			return endedAs(status)
		}
		if client.Terminal(status) && grace == nil {
			grace = time.After(2 * time.Second)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("order %s is still %s after %s: is the saga running? (%s events trace %s shows how far it got)", id, status, timeout, a.name, id)
			}
			return ctx.Err()
		case <-grace:
			return endedAs(status)
		case f := <-evc:
			print(watchStep{Time: f.Time, Kind: "event", Type: f.Event.Type(), Source: f.Event.Source(), Detail: eventDetail(f.Event.Data())})
			if t := f.Event.Type(); t == string(events.OrderCompleted) || t == string(events.OrderCancelled) {
				sawEnd = true
			}
		case <-poll.C:
			if client.Terminal(status) {
				continue
			}
			next, err := cl.Order(ctx, id)
			if err != nil {
				if ctx.Err() != nil {
					continue
				}
				return fmt.Errorf("watch order %s: %w", id, err)
			}
			if next.Status != status {
				status = next.Status
				sp.set(status)
				print(watchStep{Time: next.UpdatedAt, Kind: "status", Status: next.Status, Detail: statusDetail(next)})
			}
		}
	}
}

// endedAs is how a watch of an order that ended in status ends: exit 0 for COMPLETED, and
// ExitCancelled for CANCELLED, so that a script can tell.
func endedAs(status string) error {
	if status == client.StatusCancelled {
		return exitError{ExitCancelled}
	}
	return nil
}

// statusDetail is what a status line adds: the reason, tracking, the time the saga took.
func statusDetail(o client.Order) string {
	switch o.Status {
	case client.StatusApproved:
		return "paid " + money(o.TotalCents)
	case client.StatusCompleted:
		d := "shipped"
		if o.TrackingID != "" {
			d += ", tracking " + o.TrackingID
		}
		return d + ", " + ms(o.UpdatedAt.Sub(o.CreatedAt)) + " after it was placed"
	case client.StatusCancelled:
		return "reason " + o.CancelReason + ", " + ms(o.UpdatedAt.Sub(o.CreatedAt)) + " after it was placed"
	}
	return ""
}
