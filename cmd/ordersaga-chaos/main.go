// Command ordersaga-chaos breaks a running local stack on purpose and checks that the saga still
// converges: `make chaos` (see internal/chaos). It exits 1 when an order is stuck or stock is not
// conserved.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/internal/chaos"
)

func main() {
	cfg := chaos.Config{Log: os.Stderr}
	var victims string
	flag.StringVar(&cfg.Server, "server", "http://127.0.0.1:8080", "the running stack's gateway")
	flag.StringVar(&cfg.AdminEmail, "admin-email", env("ORDERSAGA_ADMIN_EMAIL", "admin@example.com"), "the stack's admin")
	flag.StringVar(&cfg.AdminPassword, "admin-password", env("ORDERSAGA_ADMIN_PASSWORD", "admin-password-123"), "the admin's password")
	flag.StringVar(&cfg.DataDir, "data", env("ORDERSAGA_DATA", ".data"), "the stack's data folder (its function binaries are in bin/)")
	flag.IntVar(&cfg.Orders, "orders", 600, "orders placed in each phase")
	flag.IntVar(&cfg.Concurrency, "concurrency", 8, "clients placing orders at once")
	flag.Float64Var(&cfg.Rate, "rate", 20, "orders per second (0: as fast as the clients go)")
	flag.DurationVar(&cfg.KillEvery, "kill-every", time.Second, "pause between two SIGKILLs in the first phase")
	flag.DurationVar(&cfg.HangFor, "hang-for", 90*time.Second, "how long one function is stopped (SIGSTOP) in the second phase")
	flag.DurationVar(&cfg.Settle, "settle", 6*time.Minute, "how long every order may take to end once the faults stop")
	flag.StringVar(&victims, "victims", "order,inventory,payment,shipping,deadletter", "functions the faults may hit")
	flag.Parse()
	cfg.Victims = strings.Split(victims, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := chaos.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ordersaga-chaos:", err)
		os.Exit(2)
	}
	fmt.Print(rep)
	if !rep.OK() {
		os.Exit(1)
	}
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
