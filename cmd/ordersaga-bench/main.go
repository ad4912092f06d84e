// Command ordersaga-bench measures the whole saga as a user sees it (`make bench`): it starts the
// local stack as `make run` does, in its own process (or targets a running gateway with --server),
// stocks items, drives
// orders through POST /orders and timestamps each order's ORDER_COMPLETED or ORDER_CANCELLED on
// the broker topic, with a throwaway consumer that has no group. Two runs by default: maximum
// throughput at a fixed concurrency, and latency at a fixed offered rate, each with where its
// cost went (cost.go). Then `pgbench -N` against the same PostgreSQL, for the database's own
// ceiling, and with --baseline the peer's design on the same machine (compare.go). Every figure
// goes to a JSON file.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/kafka"
	"github.com/ordersaga/ordersaga/internal/loadtest"
)

type options struct {
	server, kafka, topic       string
	adminEmail, adminPassword  string
	databaseURL, dataDir, out  string
	orders, concurrency        int
	rate                       float64
	rateOrders, warmup         int
	pgbenchSeconds, pgbenchCli int
	cpuProfile                 string
	paymentRate, baseline      string
	// scaling is the stack's ORDERSAGA_SCALING for the throughput and latency runs; the burst
	// scenario (burst orders from burstClients clients) always runs with it on.
	scaling             string
	burst, burstClients int
}

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	var o options
	flag.StringVar(&o.server, "server", "", "gateway URL of a running stack (default: start one in this process)")
	flag.StringVar(&o.kafka, "kafka", env("KAFKA_BROKERS", "127.0.0.1:19092"), "with --server: the Kafka brokers holding the broker topic "+
		"(as KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD/KAFKA_SASL_MECHANISM when set, else as the local stack's ordersctl from <data>/kafka-credentials.json)")
	flag.StringVar(&o.topic, "topic", "knative-broker-ordersaga-default", "with --server: the broker topic")
	flag.StringVar(&o.adminEmail, "admin-email", env("ORDERSAGA_ADMIN_EMAIL", "admin@example.com"), "with --server: the admin, who stocks items")
	flag.StringVar(&o.adminPassword, "admin-password", env("ORDERSAGA_ADMIN_PASSWORD", "admin-password-123"), "with --server: the admin's password")
	flag.StringVar(&o.databaseURL, "database-url", env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		"administrator URL of the PostgreSQL server: scratch databases for the stack and for pgbench")
	flag.StringVar(&o.dataDir, "data", env("ORDERSAGA_DATA", ".data"), "data folder")
	flag.StringVar(&o.out, "out", "", "where to write the figures as JSON (default <data>/bench.json)")
	flag.IntVar(&o.orders, "orders", 2000, "orders in the throughput run")
	flag.IntVar(&o.concurrency, "concurrency", 128, "orders in flight in the throughput run (0 skips it)")
	flag.Float64Var(&o.rate, "rate", 50, "orders per second offered in the latency run (0 skips it)")
	flag.IntVar(&o.rateOrders, "rate-orders", 1000, "orders in the latency run")
	flag.IntVar(&o.warmup, "warmup", 100, "unmeasured orders first")
	flag.IntVar(&o.pgbenchSeconds, "pgbench-seconds", 10, "pgbench -N duration (0 skips it)")
	flag.IntVar(&o.pgbenchCli, "pgbench-clients", 8, "pgbench clients")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the stack process (gateway, ingress, dispatchers, embedded Kafka) from start to stop")
	flag.StringVar(&o.paymentRate, "payment-rate", "0.7", "payment's success probability (PAYMENT_SUCCESS_RATE)")
	flag.StringVar(&o.scaling, "scaling", "off", "the throughput and latency runs' stack scaling (ORDERSAGA_SCALING): off keeps one instance per function, so figures compare across versions")
	flag.IntVar(&o.burst, "burst", 0, "also run the burst scenario: from zero, this many orders at once, on a stack with scaling on (0 skips it)")
	flag.IntVar(&o.burstClients, "burst-clients", 64, "clients placing the burst's orders")
	flag.StringVar(&o.baseline, "baseline", "", "also run the peer design in this folder on the same PostgreSQL and print the ratios (make bench-compare)")
	flag.Parse()
	if o.scaling != "on" && o.scaling != "off" {
		fmt.Fprintf(os.Stderr, "ordersaga-bench: -scaling is on or off, not %q\n", o.scaling)
		os.Exit(2)
	}
	if o.out == "" {
		o.out = filepath.Join(o.dataDir, "bench.json")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "ordersaga-bench:", err)
		os.Exit(1)
	}
}

// Report is the JSON written at the end.
type Report struct {
	Time   time.Time `json:"time"`
	Target string    `json:"target"`
	CPUs   int       `json:"cpus"`
	Go     string    `json:"go"`
	Runs   []Run     `json:"runs"`
	// Burst is the burst scenario (-burst), on a stack of its own with scaling on.
	Burst   *loadtest.BurstResult `json:"burst,omitempty"`
	PGBench *PGBench              `json:"pgbench,omitempty"`
	Compare *Comparison           `json:"compare,omitempty"`
}

// Run is one load's figures and, when the bench started the stack, where its cost went.
type Run struct {
	loadtest.Result
	Cost *Cost `json:"cost,omitempty"`
	// RowLatencyMS is the latency run's latency as the peer measures its own, from the order
	// rows (rowlatency.go); RowLatencyOrders is how many orders it covers.
	RowLatencyMS     *loadtest.Latencies `json:"row_latency_ms,omitempty"`
	RowLatencyOrders int                 `json:"row_latency_orders,omitempty"`
}

// PGBench is the `pgbench -N` figure.
type PGBench struct {
	Clients   int     `json:"clients"`
	DurationS int     `json:"duration_s"`
	TPS       float64 `json:"tps"`
	Command   string  `json:"command"`
}

func run(ctx context.Context, o options) error {
	rep := Report{Time: time.Now().UTC(), CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if o.concurrency > 0 || o.rate > 0 || o.pgbenchSeconds > 0 || o.baseline != "" {
		if err := runLoads(ctx, o, &rep); err != nil {
			return err
		}
	}
	if o.burst > 0 {
		burst, err := runBurst(ctx, o)
		if err != nil {
			return fmt.Errorf("burst: %w", err)
		}
		fmt.Println(burst)
		rep.Burst = &burst
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(o.out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("figures written to", o.out)
	return nil
}

// target is a stack to drive: its gateway, its broker topic and how to read it, its admin.
type target struct {
	gateway, topic            string
	kafka                     kafka.Config
	adminEmail, adminPassword string
	stack                     *childStack // nil with --server
}

// startTarget starts a child stack with scaling as given, or returns the --server one.
func startTarget(ctx context.Context, o options, scaling string) (*target, error) {
	t := &target{gateway: o.server, topic: o.topic, adminEmail: o.adminEmail, adminPassword: o.adminPassword}
	var err error
	if t.kafka, err = benchKafka(o); err != nil {
		return nil, err
	}
	if o.server != "" {
		return t, nil
	}
	if t.stack, err = startChildStack(ctx, o, scaling); err != nil {
		return nil, err
	}
	t.gateway, t.topic = t.stack.gatewayURL, t.stack.topic
	// The child stack's ordersctl principal, from the data folder it generated its credentials in.
	if t.kafka, err = kafka.LocalClient([]string{t.stack.kafka}, filepath.Join(t.stack.dataDir, kafka.CredentialsFile)); err != nil {
		t.stack.stop()
		return nil, err
	}
	t.adminEmail, t.adminPassword = t.stack.adminEmail, t.stack.adminPassword
	return t, nil
}

// prepare stocks eight items as the admin and signs a new user in.
func (t *target) prepare(ctx context.Context) (user *client.Client, skus []string, err error) {
	anon := client.New(t.gateway, loadtest.HTTPClient(512))
	admin, err := anon.SignIn(ctx, t.adminEmail, t.adminPassword)
	if err != nil {
		return nil, nil, fmt.Errorf("admin login: %w", err)
	}
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := range 8 {
		sku := fmt.Sprintf("BENCH-%s-%d", tag, i)
		item := client.NewItem{SKU: sku, Name: "benchmark item", PriceCents: 100 + int64(i), Quantity: 1_000_000}
		if _, err := admin.CreateItem(ctx, item); err != nil {
			return nil, nil, fmt.Errorf("stock: %w", err)
		}
		skus = append(skus, sku)
	}
	email, password := "bench-"+tag+"@bench.test", "bench-password-"+tag
	if _, err := anon.Signup(ctx, email, password); err != nil {
		return nil, nil, fmt.Errorf("signup: %w", err)
	}
	user, err = anon.SignIn(ctx, email, password)
	return user, skus, err
}

// runBurst runs the burst scenario on a stack of its own with scaling on (or on --server's).
func runBurst(ctx context.Context, o options) (loadtest.BurstResult, error) {
	t, err := startTarget(ctx, o, "on")
	if err != nil {
		return loadtest.BurstResult{}, err
	}
	if t.stack != nil {
		defer t.stack.stop()
	}
	user, skus, err := t.prepare(ctx)
	if err != nil {
		return loadtest.BurstResult{}, err
	}
	watcher, err := loadtest.Watch(ctx, t.kafka, t.topic)
	if err != nil {
		return loadtest.BurstResult{}, err
	}
	defer watcher.Close()
	fmt.Fprintf(os.Stderr, "burst: waiting for every function to idle to zero, then %d orders from %d clients...\n", o.burst, o.burstClients)
	status := client.New(t.gateway, nil)
	return loadtest.Burst(ctx, user, status, watcher, loadtest.BurstLoad{
		Orders: o.burst, Clients: o.burstClients, SKUs: skus, Timeout: 5 * time.Minute})
}

// runLoads runs the warmup, throughput and latency loads, pgbench and the peer comparison.
func runLoads(ctx context.Context, o options, rep *Report) error {
	t, err := startTarget(ctx, o, o.scaling)
	if err != nil {
		return err
	}
	stack := t.stack
	if stack != nil {
		defer stack.stop()
		rep.Target = "local stack (bin/ordersaga-local, PAYMENT_SUCCESS_RATE=" + o.paymentRate + ", ORDERSAGA_SCALING=" + o.scaling + ")"
	} else {
		rep.Target = t.gateway
	}
	user, skus, err := t.prepare(ctx)
	if err != nil {
		return err
	}
	watcher, err := loadtest.Watch(ctx, t.kafka, t.topic)
	if err != nil {
		return err
	}
	defer watcher.Close()

	if o.warmup > 0 {
		r := loadtest.Run(ctx, user, watcher, loadtest.Load{Name: "warmup", Orders: o.warmup, Concurrency: 16, SKUs: skus, Timeout: 2 * time.Minute})
		fmt.Fprintln(os.Stderr, r)
	}
	var loads []loadtest.Load
	if o.concurrency > 0 {
		loads = append(loads, loadtest.Load{Name: "throughput", Orders: o.orders, Concurrency: o.concurrency})
	}
	if o.rate > 0 {
		loads = append(loads, loadtest.Load{Name: "latency", Orders: o.rateOrders, Rate: o.rate})
	}
	for _, l := range loads {
		l.SKUs, l.Timeout = skus, 2*time.Minute
		var before usage
		if stack != nil {
			if before, err = measureUsage(ctx, stack.cmd.Process.Pid, stack.db, watcher); err != nil {
				return fmt.Errorf("cost counters: %w", err)
			}
		}
		started := time.Now()
		r := Run{Result: loadtest.Run(ctx, user, watcher, l)}
		fmt.Println(r.Result)
		if stack != nil && l.Rate > 0 {
			rows, n, err := rowLatencies(ctx, stack.db, started, time.Now())
			if err != nil {
				return fmt.Errorf("latency from the order rows: %w", err)
			}
			r.RowLatencyMS, r.RowLatencyOrders = &rows, n
			fmt.Printf("  as the peer measures (order row created_at to terminal updated_at), %d orders: ms p50 %.1f p95 %.1f p99 %.1f max %.1f\n",
				n, rows.P50, rows.P95, rows.P99, rows.Max)
		}
		if stack != nil {
			after, err := measureUsage(ctx, stack.cmd.Process.Pid, stack.db, watcher)
			if err != nil {
				return fmt.Errorf("cost counters: %w", err)
			}
			cost := costBetween(before, after, r.Completed+r.Cancelled)
			r.Cost = &cost
			fmt.Println(cost)
		}
		rep.Runs = append(rep.Runs, r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}

	if o.pgbenchSeconds > 0 {
		pg, err := pgbench(ctx, o)
		if err != nil {
			return fmt.Errorf("pgbench: %w", err)
		}
		fmt.Printf("pgbench    -N, %d clients, %d s: %.0f transactions/s\n", pg.Clients, pg.DurationS, pg.TPS)
		rep.PGBench = pg
	}
	if o.baseline != "" {
		if stack != nil {
			stack.stop() // the peer gets the machine to itself, as this stack had
		}
		cmp, err := comparePeer(ctx, o, rep.Runs)
		if err != nil {
			return err
		}
		rep.Compare = cmp
		fmt.Printf("compare    throughput %.2fx the peer's (goal >= 1.0), p50 at %g orders/s %.2fx the peer's (goal <= 1.2); measured as the peer measures, %.2fx\n",
			cmp.ThroughputRatio, o.rate, cmp.P50Ratio, cmp.P50RowRatio)
	}
	return nil
}

// scratchDatabase creates a database named prefix_<random> on the server of adminURL and
// returns its URL and how to drop it.
func scratchDatabase(ctx context.Context, adminURL, prefix string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL at %s: %w (set DATABASE_URL or --database-url)", adminURL, err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("%s_%d", prefix, rand.Uint32())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			slog.Warn("drop scratch database", "db", name, "err", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			slog.Warn("drop scratch database", "db", name, "err", err)
		}
	}
	return u.String(), drop, nil
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbench runs `pgbench -N` on a scratch database it initialises first and drops after.
func pgbench(ctx context.Context, o options) (*PGBench, error) {
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		return nil, errors.New("pgbench not found on PATH (Debian/Ubuntu: apt-get install postgresql-client)")
	}
	dbURL, drop, err := scratchDatabase(ctx, o.databaseURL, "ordersaga_pgbench")
	if err != nil {
		return nil, err
	}
	defer drop()
	if out, err := exec.CommandContext(ctx, bin, "-i", "-q", dbURL).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgbench -i: %v\n%s", err, out)
	}
	args := []string{"-N", "-c", strconv.Itoa(o.pgbenchCli), "-j", strconv.Itoa(min(o.pgbenchCli, runtime.NumCPU())),
		"-T", strconv.Itoa(o.pgbenchSeconds), dbURL}
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("pgbench: %v\n%s", err, out)
	}
	m := tpsLine.FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("no tps in pgbench's output:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	return &PGBench{Clients: o.pgbenchCli, DurationS: o.pgbenchSeconds, TPS: tps,
		Command: "pgbench " + strings.Join(args[:len(args)-1], " ")}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// benchKafka is how the watcher reads the broker topic of a stack given with --server: the
// KAFKA_SASL_* credentials when set, else the local stack's ordersctl principal from the data
// folder (what `make run` there created).
func benchKafka(o options) (kafka.Config, error) {
	brokers := strings.Split(o.kafka, ",")
	if user := os.Getenv("KAFKA_SASL_USERNAME"); user != "" {
		return kafka.Config{Brokers: brokers, Mechanism: env("KAFKA_SASL_MECHANISM", kafka.ScramSHA512),
			Username: user, Password: os.Getenv("KAFKA_SASL_PASSWORD")}, nil
	}
	return kafka.LocalClient(brokers, filepath.Join(o.dataDir, kafka.CredentialsFile))
}
