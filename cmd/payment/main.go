// Command payment serves the payment function (see functions/payment).
package main

import (
	"context"

	"github.com/ordersaga/ordersaga/functions/payment"
	"github.com/ordersaga/ordersaga/internal/function"
)

func main() {
	function.Main("payment", func(ctx context.Context) (function.Function, error) { return payment.New(ctx) })
}
