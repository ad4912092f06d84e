// Command ordersctl manages the order saga: accounts, items and orders over the REST gateway,
// and the flow of events on the broker's Kafka topic. Installed as kn-orders it is a kn plugin.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ordersaga/ordersaga/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, cli.OSEnv())
	stop()
	os.Exit(code)
}
