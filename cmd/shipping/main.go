// Command shipping serves the shipping function (see functions/shipping).
package main

import (
	"context"

	"github.com/ordersaga/ordersaga/functions/shipping"
	"github.com/ordersaga/ordersaga/internal/function"
)

func main() {
	function.Main("shipping", func(ctx context.Context) (function.Function, error) { return shipping.New(ctx) })
}
