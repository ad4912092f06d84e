// Command deadletter serves the dead-letter sink function (functions/deadletter): the Broker and
// every Trigger send it the events they gave up on; it stores them, redrives the transient ones
// and serves the admin API that lists and replays them.
package main

import (
	"context"

	"github.com/ordersaga/ordersaga/functions/deadletter"
	"github.com/ordersaga/ordersaga/internal/function"
)

func main() {
	function.Main("deadletter", func(ctx context.Context) (function.Function, error) { return deadletter.New(ctx) })
}
