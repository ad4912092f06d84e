package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"sigs.k8s.io/yaml"

	"github.com/ordersaga/ordersaga/internal/eventlog"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/kafka"
)

func (a *app) eventsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "events",
		Aliases: []string{"event", "ev"},
		Short:   "Watch, trace and send the saga's CloudEvents on the broker topic",
		Long: `The event commands talk to Kafka (--kafka) directly and read the broker's topic (--topic), which
carries every event of the saga. They read without a consumer group: they assign themselves the
topic's partitions and commit nothing, so they never take an event from a function.`,
		Example: `  ordersctl events tail
  ordersctl events tail --type ORDER_CANCELLED -o json
  ordersctl events trace 3f0c1d9e-...`,
	}
	cmd.AddCommand(a.tailCmd(), a.traceCmd(), a.sendCmd())
	return group(cmd)
}

func completeTypes(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	out := make([]string, len(events.All))
	for i, t := range events.All {
		out[i] = string(t)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func (a *app) tailCmd() *cobra.Command {
	var types []string
	var order string
	var fromBeginning bool
	var count int
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Stream every event on the broker topic as it passes",
		Long: `Stream the events on the broker topic: time, type, order and source, one line each, or the whole
CloudEvent with -o json (one per line) or -o yaml. Starts at the end of the topic, or at its
beginning with --from-beginning. Ctrl-C stops.`,
		Example: `  ordersctl events tail
  ordersctl events tail --type ORDER_CANCELLED --type TRANSACTION_FAILED
  ordersctl events tail --order 3f0c1d9e-... --from-beginning
  ordersctl events tail -o json | jq .data`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			want := map[string]bool{}
			for _, t := range types {
				for _, t := range strings.Split(t, ",") {
					if t = strings.TrimSpace(t); t != "" {
						want[strings.ToUpper(t)] = true
					}
				}
			}
			for t := range want {
				if !events.Known(events.Type(t)) {
					fmt.Fprintf(a.stderr, "Warning: %s is not one of the saga's event types\n", t)
				}
			}
			r, err := a.newReader(ctx)
			if err != nil {
				return err
			}
			defer r.Close()
			ts := int64(eventlog.Latest)
			if fromBeginning {
				ts = eventlog.Earliest
			}
			start, err := r.Offsets(ctx, ts)
			if err != nil {
				return err
			}
			if err := r.Seek(start); err != nil {
				return err
			}
			where := "new events"
			if fromBeginning {
				where = "from the beginning"
			}
			fmt.Fprintf(a.stderr, "Tailing %s on %s, %s (Ctrl-C stops)\n", a.topic, a.kafka, where)
			if a.output == "table" {
				fmt.Fprintln(a.stdout, a.row(tailColumns, cells("TIME", "TYPE", "ORDER", "SOURCE")))
			}
			seen := 0
			var werr error
			err = r.Each(ctx, nil, func(f eventlog.Entry) bool {
				if f.NotEvent {
					if len(want) > 0 || order != "" {
						return true
					}
					if a.output == "table" {
						fmt.Fprintln(a.stdout, a.row(tailColumns, cells(clock(f.Time), "(not a CloudEvent)", string(f.Record.Key),
							fmt.Sprintf("partition %d offset %d", f.Partition, f.Offset))))
					}
					return true
				}
				if len(want) > 0 && !want[f.Event.Type()] || order != "" && f.Order() != order {
					return true
				}
				werr = a.printEvent(f)
				seen++
				return werr == nil && (count == 0 || seen < count)
			})
			if werr != nil {
				return werr
			}
			return readErr(err, r)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&types, "type", "t", nil, "only events of this type (repeatable, or comma-separated)")
	f.StringVar(&order, "order", "", "only the events of this order")
	f.BoolVar(&fromBeginning, "from-beginning", false, "start at the beginning of the topic, not its end")
	f.IntVarP(&count, "count", "n", 0, "stop after this many events (0: never)")
	_ = cmd.RegisterFlagCompletionFunc("type", completeTypes)
	return cmd
}

// tailColumns are the widths of a tail line: time, type, order id, source.
var tailColumns = []int{12, 22, 36}

// printEvent writes one tailed event in the output format.
func (a *app) printEvent(f eventlog.Entry) error {
	switch a.output {
	case "json", "yaml":
		f.Event = readable(f.Event)
	}
	switch a.output {
	case "json":
		b, err := json.Marshal(f.Event)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", b)
		return err
	case "yaml":
		b, err := json.Marshal(f.Event)
		if err != nil {
			return err
		}
		y, err := yaml.JSONToYAML(b)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "---\n%s", y)
		return err
	}
	t := f.Event.Type()
	_, err := fmt.Fprintln(a.stdout, a.row(tailColumns, cells(clock(f.Time), cell{t, eventColour(t)}, f.Order(), f.Event.Source())))
	return err
}

func (a *app) traceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace ORDER_ID",
		Short: "Show one order's saga as a timeline with the latency of each hop",
		Long: `Read the broker topic from the beginning to its current end, collect the events of one order and
print them as a timeline: when each happened, the time since the first, and the hop latency (the
time since the event it answers, e.g. INVENTORY_RESERVED after ORDER_REQUESTED).`,
		Example: `  ordersctl events trace 3f0c1d9e-...
  ordersctl events trace 3f0c1d9e-... -o json`,
		Args:              exactArgs(1, "one order ID"),
		ValidArgsFunction: a.completeOrders,
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			tr, err := a.trace(cmd.Context(), id)
			if err != nil {
				return err
			}
			return a.emit(tr, func(w io.Writer) { a.traceTable(w, tr) })
		},
	}
	return cmd
}

// trace reads order id's trace from the topic.
func (a *app) trace(ctx context.Context, id string) (*eventlog.Trace, error) {
	r, err := a.newReader(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	tr, err := eventlog.ReadTrace(ctx, r, id, time.Time{})
	if errors.Is(err, eventlog.ErrNoEvents) {
		return nil, fmt.Errorf("no events of order %s on %s: check the id (%s orders list), or the topic no longer holds them", id, a.topic, a.name)
	}
	if err != nil {
		return nil, readErr(err, r)
	}
	return tr, nil
}

func (a *app) traceTable(w io.Writer, tr *eventlog.Trace) {
	last := tr.Events[len(tr.Events)-1]
	fmt.Fprintf(w, "Order %s: %d events in %s, %s → %s\n\n", tr.OrderID, len(tr.Events), ms(last.Elapsed),
		tr.Events[0].Type, last.Type)
	t := &table{header: []string{"TIME", "ELAPSED", "HOP", "TYPE", "SOURCE", "AFTER", "DETAIL"}}
	for _, s := range tr.Events {
		hop := "-"
		if s.HopMS != nil {
			hop = "+" + ms(s.Hop)
		}
		detail := eventDetail(s.Data)
		if s.DataError != "" {
			detail = "(" + s.DataError + ")"
		}
		t.add(clock(s.Time), ms(s.Elapsed), hop, cell{s.Type, eventColour(s.Type)}, s.Source, s.After, detail)
	}
	a.render(w, t)
}

func (a *app) sendCmd() *cobra.Command {
	var typ, source, subject, data, id string
	var noValidate bool
	cmd := &cobra.Command{
		Use:   "send --type TYPE --data JSON",
		Short: "Publish a hand-written CloudEvent (for experiments)",
		Long: `Publish a CloudEvent to the broker topic (or --topic) in the Kafka binding's binary mode, with
the order id as subject, partition key and record key. The broker routes it like any other event:
the functions it is meant for will react. For the saga's own types the data is checked against the
event contract first (--no-validate skips that). The order id defaults to the data's order_id.`,
		Example: `  ordersctl events send --type TRANSACTION_FAILED --source ordersctl \
      --data '{"order_id":"3f0c1d9e-...","transaction_id":"t-1","amount_cents":2500,"reason":"payment_declined"}'
  ordersctl events send --type EXPERIMENT --order o-1 --data @event.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ == "" {
				return usagef("--type is required, e.g. --type %s", events.TransactionFailed)
			}
			body, err := a.readData(data)
			if err != nil {
				return err
			}
			if subject == "" {
				var d struct {
					OrderID string `json:"order_id"`
				}
				_ = json.Unmarshal(body, &d)
				subject = d.OrderID
			}
			e := cloudevents.NewEvent()
			if id == "" {
				id = uuid.NewString()
			}
			e.SetID(id)
			e.SetType(typ)
			e.SetSource(source)
			e.SetTime(time.Now().UTC())
			if subject != "" {
				e.SetSubject(subject)
				e.SetExtension(events.PartitionKey, subject)
			}
			if events.Known(events.Type(typ)) {
				e.SetDataSchema(events.DataSchema(events.Type(typ)))
			}
			if body != nil {
				if err := e.SetData(cloudevents.ApplicationJSON, json.RawMessage(body)); err != nil {
					return err
				}
			}
			if events.Known(events.Type(typ)) && !noValidate {
				if _, err := events.DecodeAny(e); err != nil {
					return usagef("%v (--no-validate sends it anyway)", err)
				}
			}
			rec, err := kafka.Record(a.topic, e)
			if err != nil {
				return usagef("not a valid CloudEvent: %v", err)
			}
			r, err := a.newReader(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			p, err := r.Kafka().NewClient(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
			if err != nil {
				return err
			}
			defer p.Close()
			res := p.ProduceSync(ctx, rec)
			if err := res.FirstErr(); err != nil {
				if aerr := authError(err, r.Kafka()); aerr != nil {
					return aerr
				}
				return fmt.Errorf("publish to %s on %s: %w", a.topic, a.kafka, err)
			}
			out := res[0].Record
			return a.emit(e, func(w io.Writer) {
				fmt.Fprintf(w, "Sent %s %s to %s (partition %d, offset %d).\n", e.Type(), e.ID(), a.topic, out.Partition, out.Offset)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&typ, "type", "", "the CloudEvents type, e.g. TRANSACTION_FAILED (required)")
	f.StringVar(&source, "source", "ordersctl", "the CloudEvents source")
	f.StringVar(&subject, "order", "", "the order id: subject, partition key and record key (default: the data's order_id)")
	f.StringVar(&subject, "subject", "", "the same as --order")
	f.StringVar(&data, "data", "", "the data: JSON, @FILE, or - for stdin")
	f.StringVar(&id, "id", "", "the event id (default: a new UUID; the same id and source is a redelivery to the functions)")
	f.BoolVar(&noValidate, "no-validate", false, "send data that breaks the event contract")
	_ = cmd.RegisterFlagCompletionFunc("type", completeTypes)
	return cmd
}

// readData reads --data: inline JSON, @file or - (stdin). It must be one JSON value.
func (a *app) readData(data string) ([]byte, error) {
	var b []byte
	switch {
	case data == "":
		return nil, nil
	case data == "-":
		var err error
		if b, err = io.ReadAll(io.LimitReader(a.env.Stdin, events.MaxDataBytes+1)); err != nil {
			return nil, err
		}
	case strings.HasPrefix(data, "@"):
		var err error
		if b, err = os.ReadFile(data[1:]); err != nil {
			return nil, usagef("--data %s: %v", data, err)
		}
	default:
		b = []byte(data)
	}
	if !json.Valid(b) {
		return nil, usagef("--data is not valid JSON")
	}
	return b, nil
}

// readable makes JSON data print as JSON rather than base64 (how it travelled is no part of
// the event).
func readable(e cloudevents.Event) cloudevents.Event {
	if e.DataBase64 && json.Valid(e.Data()) {
		e = e.Clone()
		e.DataBase64 = false
	}
	return e
}
