// Command order runs the order function.
package main

import (
	"context"

	"github.com/ordersaga/ordersaga/functions/order"
	"github.com/ordersaga/ordersaga/internal/function"
)

func main() {
	function.Main("order", func(ctx context.Context) (function.Function, error) { return order.New(ctx) })
}
