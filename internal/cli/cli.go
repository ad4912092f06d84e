// Package cli is ordersctl, the management CLI of the order saga: signup and login, items and
// orders over the REST gateway (docs/CONTRACTS.md, "REST"), and the flow of events on the broker's
// Kafka topic (tail, trace, send). The root command is built from an Env and a pair of writers,
// so tests run every command in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit codes: the conventions of kubectl and kn.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // a runtime or server error
	ExitUsage   = 2 // the command line is wrong
	// ExitCancelled: a watched order (orders watch, create --watch, cancel --watch) ended
	// CANCELLED. Its last line says why.
	ExitCancelled = 3
)

// Defaults, those of the local stack (`make run`).
const (
	DefaultServer = "http://127.0.0.1:8080"
	DefaultKafka  = "127.0.0.1:19092"
	DefaultTopic  = "knative-broker-ordersaga-default"
)

// Env is everything the CLI takes from its surroundings besides its arguments and writers.
type Env struct {
	// Getenv reads an environment variable; nil means an empty environment.
	Getenv func(string) string
	// Stdin is read by login --password-stdin and by events send --data -.
	Stdin io.Reader
	// Args0 is the program's name as invoked: as kn-orders the CLI is the kn plugin "kn orders".
	Args0 string
	// StdoutTerminal and StderrTerminal say whether colour and the progress indicator may be used.
	StdoutTerminal, StderrTerminal bool
	// StdinFd is stdin's file descriptor when it is a terminal (a password prompt), else -1.
	StdinFd int
}

// OSEnv is the environment of the running process.
func OSEnv() Env {
	env := Env{Getenv: os.Getenv, Stdin: os.Stdin, StdinFd: -1,
		StdoutTerminal: isTerminal(os.Stdout), StderrTerminal: isTerminal(os.Stderr)}
	if len(os.Args) > 0 {
		env.Args0 = os.Args[0]
	}
	if isTerminal(os.Stdin) {
		env.StdinFd = int(os.Stdin.Fd())
	}
	return env
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func (e Env) get(name string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(name)
}

// usageError is a wrong command line: exit code 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError ends a command with code once it has printed all it had to say: Run prints nothing
// more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Run runs the CLI with args (without the program name) and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, env Env) int {
	a := newApp(stdout, stderr, env)
	root := a.rootCmd()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return ExitOK // Ctrl-C ends tail and watch: not a failure
	}
	var exit exitError
	if errors.As(err, &exit) {
		return exit.code // the command has said what happened
	}
	fmt.Fprintf(stderr, "Error: %v\n", a.withHint(err))
	if isUsage(err) {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return ExitUsage
	}
	return ExitFailure
}

// isUsage tells a wrong command line from a failure. Cobra reports unknown commands and flag
// problems as plain errors; flags go through the flag error function, the rest are matched here.
func isUsage(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand flag",
		"required flag", "invalid argument", "accepts ", "requires at least", "if any flags in the group"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// app is the state the commands share: global flags, writers and environment.
type app struct {
	stdout, stderr io.Writer
	env            Env
	name           string // ordersctl, or "kn orders" as a kn plugin

	server     string
	kafka      string
	kafkaAuth  kafkaAuth
	topic      string
	output     string
	configPath string
	noColor    bool
}

// NewRoot builds the ordersctl command tree writing to stdout and stderr.
func NewRoot(stdout, stderr io.Writer, env Env) *cobra.Command {
	return newApp(stdout, stderr, env).rootCmd()
}

func newApp(stdout, stderr io.Writer, env Env) *app {
	return &app{stdout: stdout, stderr: stderr, env: env, name: "ordersctl"}
}

// rootCmd builds the command tree.
func (a *app) rootCmd() *cobra.Command {
	env := a.env
	use := "ordersctl"
	if name := strings.TrimSuffix(filepath.Base(env.Args0), ".exe"); name == "kn-orders" {
		use = "kn orders"
	}
	root := &cobra.Command{
		Use:   use,
		Short: "Manage the order saga: accounts, items, orders and the flow of events",
		Long: `ordersctl manages the order saga. Accounts, items and orders go through the REST gateway
(--server); the event commands read and write the broker's Kafka topic (--kafka, --topic).

Start the system with 'make run', then log in with the admin it prints.`,
		Example: `  ordersctl login --email admin@example.com --password admin-password-123
  ordersctl items create --sku BOOK-1 --name "A book" --price 12.50 --quantity 10
  ordersctl orders create --item BOOK-1=2 --watch
  ordersctl events tail
  ordersctl events trace 3f0c1d9e-...`,
		// As a kn plugin (kn-orders), help and usage say "kn orders".
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: use},
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch a.output {
			case "table", "json", "yaml":
			default:
				return usagef("--output must be table, json or yaml, not %q", a.output)
			}
			return nil
		},
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetIn(env.Stdin)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })

	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", envOr(env, "ORDERSCTL_SERVER", DefaultServer), "the gateway's URL (env ORDERSCTL_SERVER)")
	pf.StringVar(&a.kafka, "kafka", envOr(env, "ORDERSCTL_KAFKA", DefaultKafka), "Kafka bootstrap brokers, comma-separated, for the event commands (env ORDERSCTL_KAFKA)")
	a.kafkaAuth.flags(pf, env)
	pf.StringVar(&a.topic, "topic", envOr(env, "ORDERSCTL_TOPIC", DefaultTopic), "the broker's Kafka topic, which carries every event (env ORDERSCTL_TOPIC)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table, json or yaml")
	pf.StringVar(&a.configPath, "config", "", "the config file holding login tokens (env ORDERSCTL_CONFIG; default "+defaultConfigHint()+")")
	pf.BoolVar(&a.noColor, "no-color", env.get("NO_COLOR") != "", "never colour the output (env NO_COLOR)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))

	root.AddGroup(&cobra.Group{ID: "account", Title: "Account:"},
		&cobra.Group{ID: "shop", Title: "Items and orders:"},
		&cobra.Group{ID: "events", Title: "Events and overview:"})
	for _, c := range []*cobra.Command{a.signupCmd(), a.loginCmd(), a.logoutCmd(), a.whoamiCmd()} {
		c.GroupID = "account"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.itemsCmd(), a.ordersCmd()} {
		c.GroupID = "shop"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.eventsCmd(), a.statsCmd(), a.topCmd(), a.deadLettersCmd()} {
		c.GroupID = "events"
		root.AddCommand(c)
	}
	if use != "ordersctl" {
		// As a kn plugin, the examples and hints name the command as it is typed.
		a.name = use
		var rename func(c *cobra.Command)
		rename = func(c *cobra.Command) {
			c.Example = strings.ReplaceAll(c.Example, "ordersctl ", use+" ")
			c.Long = strings.ReplaceAll(c.Long, "ordersctl ", use+" ")
			for _, sub := range c.Commands() {
				rename(sub)
			}
		}
		rename(root)
	}
	return root
}

// group is a command that only holds others: alone it shows its help; with an argument that
// names no subcommand it is a usage error (cobra would show the help and succeed).
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q for %q", args[0], c.CommandPath())
		}
		return c.Help()
	}
	return cmd
}

func envOr(env Env, name, def string) string {
	if v := env.get(name); v != "" {
		return v
	}
	return def
}

// colour reports whether stdout may be coloured.
func (a *app) colour() bool { return a.env.StdoutTerminal && !a.noColor }

// exactArgs is cobra.ExactArgs with a message naming what is missing, as a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %s (got %d arguments)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments (got %q)", cmd.CommandPath(), args)
	}
	return nil
}
