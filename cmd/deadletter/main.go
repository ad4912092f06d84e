// Command deadletter runs the dead-letter sink: the Broker and every Trigger send it the events
// they gave up on, and it logs each one as a single JSON line.
package main

import (
	"context"

	"github.com/ordersaga/ordersaga/cmd/deadletter/sink"
	"github.com/ordersaga/ordersaga/internal/function"
)

func main() {
	function.Main("deadletter", func(context.Context) (function.Function, error) { return sink.New(), nil })
}
