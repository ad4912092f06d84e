// Command ordersaga-local runs the whole order saga on this machine: `make run`.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/kelseyhightower/envconfig"

	"github.com/ordersaga/ordersaga/internal/local"
)

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err := local.DieWithParent(); err != nil {
		slog.Warn("cannot ask to stop with the parent process", "err", err)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ordersaga-local:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg local.Config
	if err := envconfig.Process("", &cfg); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv("ORDERSAGA_CPUPROFILE"); path != "" {
		// For `make bench -cpuprofile`: the data plane's profile, from start to stop.
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	stack, err := local.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer stack.Stop()
	fmt.Fprint(os.Stderr, stack.Summary())
	if err := stack.Wait(ctx); err != nil {
		return err
	}
	slog.Info("stopping")
	stack.Stop()
	slog.Info("stopped")
	return nil
}
