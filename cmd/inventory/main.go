// Command inventory serves the inventory function (functions/inventory).
package main

import (
	"context"

	"github.com/ordersaga/ordersaga/functions/inventory"
	"github.com/ordersaga/ordersaga/internal/function"
)

func main() {
	function.Main("inventory", func(ctx context.Context) (function.Function, error) { return inventory.New(ctx) })
}
