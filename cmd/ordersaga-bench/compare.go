package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/ordersaga/ordersaga/internal/loadtest"
)

// Comparison is `make bench-compare`: the peer (the seed's design, one topic and a consumer group
// per service; BASELINE_DIR) measured right after this stack, on the same PostgreSQL server, with
// the same number of orders and payment odds, and the two ratios the performance goal is set in.
type Comparison struct {
	PeerDir string `json:"peer_dir"`
	// Peer holds the peer's own JSON figures, unchanged, for each of its two runs.
	Peer map[string]json.RawMessage `json:"peer"`
	// ThroughputRatio is our ended orders per second over the peer's (goal: at least 1.0).
	ThroughputRatio float64 `json:"throughput_ratio"`
	// P50Ratio is our median latency at the offered rate over the peer's (goal: at most 1.2).
	P50Ratio float64 `json:"p50_ratio"`
	// P50RowRatio is the same with ours measured as the peer measures its own: from the order
	// row's created_at to its terminal transition (Run.RowLatencyMS).
	P50RowRatio float64 `json:"p50_row_ratio"`
	// Latency is not measured identically: ours (P50Ratio) is from the 202 of POST /orders to the
	// terminal event on the broker topic, the peer's from the order row's created_at to its
	// terminal_at.
	Note string `json:"note"`
}

// peerFigures is what the comparison reads from the peer's JSON.
type peerFigures struct {
	OrdersPerSec float64 `json:"orders_per_sec"`
	LatencyMs    struct {
		P50 float64 `json:"p50"`
	} `json:"latency_ms"`
	OK bool `json:"ok"`
}

// comparePeer builds the peer in dir and runs its bench twice (closed loop for throughput, open
// loop at the same rate for latency), each on a scratch database, and sets the ratios against
// ours.
func comparePeer(ctx context.Context, o options, ours []Run) (*Comparison, error) {
	dir, err := filepath.Abs(o.baseline)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return nil, fmt.Errorf("no peer in %s (set BASELINE_DIR to the baseline's folder, e.g. ../shared/tools/baseline): %w", dir, err)
	}
	work, err := filepath.Abs(filepath.Join(o.dataDir, "bench"))
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(work, "baseline")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the peer in %s: %v\n%s", dir, err, out)
	}
	cmp := &Comparison{PeerDir: dir, Peer: map[string]json.RawMessage{},
		Note: "latency: p50_ratio has ours from the 202 of POST /orders to the terminal event on the topic, p50_row_ratio from the order row's created_at to its terminal updated_at; the peer's from created_at to terminal_at"}
	p := o.paymentRate
	runs := map[string][]string{
		"throughput": {"-orders", strconv.Itoa(o.orders), "-p", p},
		"latency":    {"-rate", strconv.FormatFloat(o.rate, 'g', -1, 64), "-seconds", strconv.FormatFloat(float64(o.rateOrders)/o.rate, 'g', -1, 64), "-p", p},
	}
	figures := map[string]peerFigures{}
	for _, name := range []string{"throughput", "latency"} {
		raw, err := runPeer(ctx, o, bin, work, name, runs[name])
		if err != nil {
			return nil, err
		}
		var f peerFigures
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("the peer's %s figures: %w", name, err)
		}
		cmp.Peer[name], figures[name] = raw, f
	}
	for _, r := range ours {
		switch r.Name {
		case "throughput":
			if f := figures["throughput"]; f.OrdersPerSec > 0 {
				cmp.ThroughputRatio = loadtest.Round(r.EndedPerS/f.OrdersPerSec, 2)
			}
		case "latency":
			if f := figures["latency"]; f.LatencyMs.P50 > 0 {
				cmp.P50Ratio = loadtest.Round(r.LatencyMS.P50/f.LatencyMs.P50, 2)
				if r.RowLatencyMS != nil {
					cmp.P50RowRatio = loadtest.Round(r.RowLatencyMS.P50/f.LatencyMs.P50, 2)
				}
			}
		}
	}
	return cmp, nil
}

// runPeer runs one peer bench on a scratch database and returns its JSON.
func runPeer(ctx context.Context, o options, bin, work, name string, args []string) ([]byte, error) {
	db, drop, err := scratchDatabase(ctx, o.databaseURL, "ordersaga_peer")
	if err != nil {
		return nil, err
	}
	defer drop()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	out := filepath.Join(work, "peer-"+name+".json")
	args = append([]string{"bench", "-db", db, "-kafka-port", strconv.Itoa(port), "-out", out}, args...)
	fmt.Fprintf(os.Stderr, "peer %s run: %s %v\n", name, filepath.Base(bin), args)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = work
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("the peer's %s run: %w", name, err)
	}
	return os.ReadFile(out)
}
