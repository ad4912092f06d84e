// Command gateway runs the public REST gateway in front of the cluster-local functions.
package main

import (
	"context"

	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/gateway"
)

func main() {
	function.Main("gateway", func(ctx context.Context) (function.Function, error) { return gateway.New(ctx) })
}
