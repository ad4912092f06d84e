package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/client"
)

// deadLetterFilter is the --status, --type, --order and --destination flags.
type deadLetterFilter client.DeadLetterFilter

func (f *deadLetterFilter) flags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.Status, "status", "", "only this status: pending, redriving, delivered or failed_permanently")
	fl.StringVar(&f.Type, "type", "", "only events of this type")
	fl.StringVar(&f.Order, "order", "", "only events of this order id")
	fl.StringVar(&f.Destination, "destination", "", "only events that failed for this subscriber URL")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(
		[]string{"pending", "redriving", "delivered", "failed_permanently"}, cobra.ShellCompDirectiveNoFileComp))
}

func (a *app) deadLettersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deadletters",
		Aliases: []string{"deadletter", "dl"},
		Short:   "List, show and replay the events the broker gave up on (needs an admin)",
		Long: `Dead letters are events a subscriber refused (4xx) or did not take within its Trigger's
retries. Transient ones (5xx, timeouts) are redelivered automatically once the subscriber is
ready again, for a bounded time; the others wait here, with the reason, for a person to replay.`,
		Example: `  ordersctl deadletters list --status failed_permanently
  ordersctl deadletters show 0b6c...
  ordersctl deadletters replay 0b6c...
  ordersctl deadletters replay --all --type ORDER_ACCEPTED`,
	}
	cmd.AddCommand(a.deadLettersListCmd(), a.deadLettersShowCmd(), a.deadLettersReplayCmd())
	return group(cmd)
}

func (a *app) deadLettersListCmd() *cobra.Command {
	var filter deadLetterFilter
	var limit int
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List dead letters, most recently dead-lettered first",
		Example: `  ordersctl deadletters list
  ordersctl deadletters list --status pending --type INVENTORY_RESERVED -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			all, err := cl.DeadLetters(cmd.Context(), client.DeadLetterFilter(filter), limit)
			if err != nil {
				return fmt.Errorf("list dead letters: %w", err)
			}
			// The REST answer's shape, so that -o json is what GET /deadletters says.
			body := struct {
				DeadLetters []client.DeadLetter `json:"dead_letters"`
			}{all}
			return a.emit(body, func(w io.Writer) { a.deadLetterTable(w, all...) })
		},
	}
	filter.flags(cmd)
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (the server's default is 100, its maximum 1000)")
	return cmd
}

func (a *app) deadLettersShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "show ID",
		Aliases: []string{"get"},
		Short:   "Show one dead letter with its event and why it failed",
		Example: `  ordersctl deadletters show 0b6c...`,
		Args:    exactArgs(1, "one dead letter id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			d, err := cl.DeadLetter(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("dead letter %s: %w", args[0], err)
			}
			return a.emit(d, func(w io.Writer) { a.deadLetterDetails(w, d) })
		},
	}
}

func (a *app) deadLettersReplayCmd() *cobra.Command {
	var filter deadLetterFilter
	var all, force bool
	cmd := &cobra.Command{
		Use:   "replay (ID | --all [filters])",
		Short: "Redeliver dead letters to their subscriber now",
		Long: `Redelivers one dead letter (ID), or every one matching the filters (--all; delivered ones
only with --status delivered), to the subscriber it failed for, and sends the subscriber's reply
to the broker. Subscribers handle each event once, so a replay is safe to repeat. The exit code
is 1 when a replay was not delivered.`,
		Example: `  ordersctl deadletters replay 0b6c...
  ordersctl deadletters replay 0b6c... --force   # again, although it was delivered
  ordersctl deadletters replay --all --status failed_permanently --type ORDER_ACCEPTED`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case all && len(args) > 0:
				return usagef("%s takes an id or --all, not both", cmd.CommandPath())
			case !all && len(args) != 1:
				return usagef("%s takes one dead letter id, or --all", cmd.CommandPath())
			case !all && filter != (deadLetterFilter{}):
				return usagef("the filters go with --all")
			case all && force:
				return usagef("--force replays one delivered dead letter; --all --status delivered replays them all")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			if all {
				res, err := cl.ReplayDeadLetters(cmd.Context(), client.DeadLetterFilter(filter))
				if err != nil {
					return fmt.Errorf("replay dead letters: %w", err)
				}
				if err := a.emit(res, func(w io.Writer) {
					fmt.Fprintf(w, "replayed %d: %d delivered, %d failed\n", res.Replayed, res.Delivered, res.Failed)
				}); err != nil {
					return err
				}
				if res.Failed > 0 {
					return fmt.Errorf("%d of %d replays were not delivered: %s deadletters list --status pending", res.Failed, res.Replayed, a.name)
				}
				return nil
			}
			d, err := cl.ReplayDeadLetter(cmd.Context(), args[0], force)
			if err != nil {
				return fmt.Errorf("dead letter %s: %w", args[0], err)
			}
			if err := a.emit(d, func(w io.Writer) { a.deadLetterDetails(w, d) }); err != nil {
				return err
			}
			if d.Status != "delivered" {
				return fmt.Errorf("dead letter %s was not delivered: %s", d.ID, d.LastError)
			}
			return nil
		},
	}
	filter.flags(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "replay every dead letter matching the filters (at most 500 per call)")
	cmd.Flags().BoolVar(&force, "force", false, "replay it although it was delivered")
	return cmd
}

func deadLetterStatusColour(status string) string {
	switch status {
	case "delivered":
		return green
	case "failed_permanently":
		return red
	case "pending", "redriving":
		return yellow
	}
	return ""
}

func (a *app) deadLetterTable(w io.Writer, all ...client.DeadLetter) {
	t := &table{header: []string{"ID", "TYPE", "ORDER", "DESTINATION", "STATUS", "CODE", "ATTEMPTS", "REPLAYS", "LAST SEEN"}}
	for _, d := range all {
		t.add(d.ID, d.Type, d.OrderID, d.Destination, cell{d.Status, deadLetterStatusColour(d.Status)},
			d.ErrorCode, d.Attempts, d.Replays, timestamp(d.LastSeen))
	}
	a.render(w, t)
}

func (a *app) deadLetterDetails(w io.Writer, d client.DeadLetter) {
	next := "-"
	if d.NextAttemptAt != nil {
		next = timestamp(*d.NextAttemptAt)
	}
	a.details(w, "ID", d.ID, "Status", cell{d.Status, deadLetterStatusColour(d.Status)},
		"Retryable", yesNo(d.Retryable), "Type", d.Type, "Order", d.OrderID, "Event", d.EventSource+" "+d.EventID,
		"Destination", d.Destination, "Error code", d.ErrorCode, "Error data", d.ErrorData,
		"Last error", d.LastError, "Attempts", d.Attempts, "Replays", d.Replays,
		"First seen", timestamp(d.FirstSeen), "Last seen", timestamp(d.LastSeen), "Next attempt", next)
	var buf bytes.Buffer
	if len(d.Event) > 0 && json.Indent(&buf, d.Event, "", "  ") == nil {
		fmt.Fprintf(w, "\n%s\n", buf.String())
	}
}
