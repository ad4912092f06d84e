// Command deadletter serves the dead-letter sink function (functions/deadletter): the Broker and
// every Trigger send it the events they gave up on, and it logs each one as a single JSON line.
package main

import (
	"context"

	"github.com/ordersaga/ordersaga/functions/deadletter"
	"github.com/ordersaga/ordersaga/internal/function"
)

func main() {
	function.Main("deadletter", func(context.Context) (function.Function, error) { return deadletter.New(), nil })
}
