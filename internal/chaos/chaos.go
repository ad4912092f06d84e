// Package chaos runs `make chaos` against a running local stack: orders placed while function
// processes are killed (SIGKILL, as a crashing pod) and then while one function hangs (SIGSTOP,
// as a stalled node), then it waits for the saga to settle and checks what must hold however
// long something failed: every order ends, and no stock stays reserved or goes missing.
package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ordersaga/ordersaga/internal/client"
)

// Config is one chaos run.
type Config struct {
	Server        string
	AdminEmail    string
	AdminPassword string
	// DataDir is the stack's data folder: function processes are found by their binaries there.
	DataDir string
	// Orders are placed in each of the two phases by Concurrency clients.
	Orders      int
	Concurrency int
	// Rate paces the orders (per second; 0 places them as fast as the clients go), so that a
	// phase lasts long enough for its faults to bite.
	Rate float64
	// KillEvery is the pause between two SIGKILLs in the first phase.
	KillEvery time.Duration
	// HangFor is how long one function stays stopped in the second phase.
	HangFor time.Duration
	// Settle bounds the wait, after the faults stop, for every order to end.
	Settle time.Duration
	// Victims are the functions faults may hit.
	Victims []string
	Log     io.Writer
}

// Report is what a run found.
type Report struct {
	Phases []PhaseReport
	// Stuck are orders not terminal when Settle ran out.
	Stuck []string
	// SettleTime is from the end of the faults to the last order ending.
	SettleTime time.Duration
	// StockProblems are broken stock invariants, per sku.
	StockProblems []string
}

// PhaseReport is one phase's faults and orders.
type PhaseReport struct {
	Name    string
	Faults  int
	Placed  int
	Refused int
	// Refusals counts the refused orders by error, so a report says why they were refused.
	Refusals map[string]int
	Duration time.Duration
}

// OK reports whether the saga converged: nothing stuck, stock conserved and released.
func (r Report) OK() bool { return len(r.Stuck) == 0 && len(r.StockProblems) == 0 }

func (r Report) String() string {
	var b strings.Builder
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "%-6s %4d orders placed, %3d refused, %3d faults, %s\n", p.Name, p.Placed, p.Refused, p.Faults, p.Duration.Round(time.Second))
		for reason, n := range p.Refusals {
			fmt.Fprintf(&b, "  refused %dx: %s\n", n, reason)
		}
	}
	fmt.Fprintf(&b, "settle %4d stuck, settled %s after the faults stopped\n", len(r.Stuck), r.SettleTime.Round(time.Second))
	for _, s := range r.Stuck {
		fmt.Fprintf(&b, "  stuck: %s\n", s)
	}
	if len(r.StockProblems) == 0 {
		fmt.Fprintf(&b, "stock  conserved (available + reserved + sold = stocked) and nothing reserved\n")
	}
	for _, p := range r.StockProblems {
		fmt.Fprintf(&b, "  stock: %s\n", p)
	}
	return b.String()
}

// stock is what the run puts on sale: a few skus, some of them scarce so that orders are also
// refused for stock.
var stock = map[string]int64{"A": 100000, "B": 100000, "C": 200}

// Run runs both phases and the settle wait.
func Run(ctx context.Context, cfg Config) (Report, error) {
	var rep Report
	gw := client.New(cfg.Server, nil)
	admin, err := gw.SignIn(ctx, cfg.AdminEmail, cfg.AdminPassword)
	if err != nil {
		return rep, err
	}
	run := strconv.FormatInt(time.Now().Unix(), 36)
	skus := map[string]int64{}
	for name, qty := range stock {
		sku := "CHAOS-" + strings.ToUpper(run) + "-" + name
		if _, err := admin.CreateItem(ctx, client.NewItem{SKU: sku, Name: "chaos " + name, PriceCents: 199, Quantity: qty}); err != nil {
			return rep, err
		}
		skus[sku] = qty
	}
	email, password := "chaos-"+run+"@example.com", "chaos-password-1"
	if _, err := gw.Signup(ctx, email, password); err != nil {
		return rep, err
	}
	user, err := gw.SignIn(ctx, email, password)
	if err != nil {
		return rep, err
	}

	var placed []string
	for _, phase := range []struct {
		name   string
		faults func(ctx context.Context, cfg Config) int
	}{{"kill", killEvery}, {"hang", hangOne}} {
		p, ids := runPhase(ctx, cfg, user, skus, phase.name, phase.faults)
		rep.Phases = append(rep.Phases, p)
		placed = append(placed, ids...)
	}
	faultsEnded := time.Now()

	// Settle: every placed order must end.
	user, err = gw.SignIn(ctx, email, password) // a fresh token: the run may outlast the first
	if err != nil {
		return rep, err
	}
	pending := map[string]bool{}
	for _, id := range placed {
		pending[id] = true
	}
	deadline := faultsEnded.Add(cfg.Settle)
	for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		for id := range pending {
			o, err := user.Order(ctx, id)
			if err == nil && o.Terminal() {
				delete(pending, id)
			}
		}
		if len(pending) > 0 {
			fmt.Fprintf(cfg.Log, "settling: %d orders not ended yet\n", len(pending))
			sleep(ctx, 2*time.Second)
		}
	}
	rep.SettleTime = time.Since(faultsEnded)
	for id := range pending {
		o, err := user.Order(ctx, id)
		rep.Stuck = append(rep.Stuck, fmt.Sprintf("%s %s %v", id, o.Status, err))
	}

	// Stock: conserved, and nothing reserved once quiet. Reservations of orders still stuck are
	// expected, so check only a settled run.
	if len(pending) == 0 {
		for sku, stocked := range skus {
			it, err := admin.Item(ctx, sku)
			switch {
			case err != nil:
				rep.StockProblems = append(rep.StockProblems, fmt.Sprintf("%s: %v", sku, err))
			case it.Available+it.Reserved+it.Sold != stocked:
				rep.StockProblems = append(rep.StockProblems, fmt.Sprintf("%s: available %d + reserved %d + sold %d != stocked %d", sku, it.Available, it.Reserved, it.Sold, stocked))
			case it.Reserved != 0:
				rep.StockProblems = append(rep.StockProblems, fmt.Sprintf("%s: %d still reserved", sku, it.Reserved))
			}
		}
	}
	return rep, nil
}

// killEvery SIGKILLs a random victim every cfg.KillEvery until ctx ends, and returns how many.
func killEvery(ctx context.Context, cfg Config) int {
	kills := 0
	for ctx.Err() == nil {
		victim := cfg.Victims[rand.IntN(len(cfg.Victims))]
		if pid := findFunction(cfg.DataDir, victim); pid > 0 && syscall.Kill(pid, syscall.SIGKILL) == nil {
			kills++
			fmt.Fprintf(cfg.Log, "kill: %s (pid %d)\n", victim, pid)
		}
		sleep(ctx, cfg.KillEvery)
	}
	return kills
}

// hangOne stops a random victim (SIGSTOP) for cfg.HangFor, however soon ctx ends, then resumes it.
// The victim may still be restarting after the first phase's kills, so it waits for its process.
func hangOne(ctx context.Context, cfg Config) int {
	victim := cfg.Victims[rand.IntN(len(cfg.Victims))]
	pid := findFunction(cfg.DataDir, victim)
	for wait := time.Now().Add(30 * time.Second); pid == 0 && time.Now().Before(wait) && ctx.Err() == nil; {
		sleep(ctx, 100*time.Millisecond)
		pid = findFunction(cfg.DataDir, victim)
	}
	if pid == 0 || syscall.Kill(pid, syscall.SIGSTOP) != nil {
		fmt.Fprintf(cfg.Log, "hang: no %s process to stop\n", victim)
		return 0
	}
	fmt.Fprintf(cfg.Log, "hang: %s (pid %d) stopped for %s\n", victim, pid, cfg.HangFor)
	time.Sleep(cfg.HangFor) // the whole outage, even once every order is placed
	_ = syscall.Kill(pid, syscall.SIGCONT)
	fmt.Fprintf(cfg.Log, "hang: %s resumed\n", victim)
	return 1
}

// runPhase places cfg.Orders orders from cfg.Concurrency clients while faults runs, and returns
// once both are done.
func runPhase(ctx context.Context, cfg Config, user *client.Client, skus map[string]int64, name string,
	faults func(context.Context, Config) int) (PhaseReport, []string) {
	rep := PhaseReport{Name: name, Refusals: map[string]int{}}
	started := time.Now()
	faultsCtx, stopFaults := context.WithCancel(ctx)
	faultCount := make(chan int, 1)
	go func() { faultCount <- faults(faultsCtx, cfg) }()

	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	work := make(chan int)
	var skuList []string
	for sku := range skus {
		skuList = append(skuList, sku)
	}
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				lines := []client.Line{{SKU: skuList[i%len(skuList)], Quantity: 1 + int64(i%3)}}
				o, err := user.PlaceOrder(ctx, lines, "")
				mu.Lock()
				if err != nil {
					rep.Refused++
					rep.Refusals[err.Error()]++
				} else {
					ids = append(ids, o.ID)
				}
				mu.Unlock()
			}
		}()
	}
	var pace <-chan time.Time
	if cfg.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
		defer t.Stop()
		pace = t.C
	}
	for i := range cfg.Orders {
		if pace != nil {
			<-pace
		}
		work <- i
	}
	close(work)
	wg.Wait()
	stopFaults()
	rep.Faults = <-faultCount
	rep.Placed = len(ids)
	rep.Duration = time.Since(started)
	return rep, ids
}

// findFunction returns the pid of the process running <dataDir>/bin/<name>, or 0.
func findFunction(dataDir, name string) int {
	bin, err := filepath.Abs(filepath.Join(dataDir, "bin", name))
	if err != nil {
		return 0
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == bin {
			return pid
		}
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
