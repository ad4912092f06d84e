// Package ordersaga is what knative/func builds from the root func.yaml: New returns an instance
// that serves the saga function named by ORDERSAGA_FUNCTION (order, inventory, payment,
// shipping, user, deadletter, gateway) with the same handler the ko-built binaries serve: CloudEvents on
// POST /, the function's REST routes, probes under /health/. func's Go scaffolding (func-go's
// http middleware) calls Start, Handle, Ready, Alive and Stop. The cmd/<name> binaries do not
// use it.
package ordersaga

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync/atomic"

	"github.com/ordersaga/ordersaga/functions/deadletter"
	"github.com/ordersaga/ordersaga/functions/inventory"
	"github.com/ordersaga/ordersaga/functions/order"
	"github.com/ordersaga/ordersaga/functions/payment"
	"github.com/ordersaga/ordersaga/functions/shipping"
	"github.com/ordersaga/ordersaga/functions/user"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/gateway"
	"github.com/ordersaga/ordersaga/internal/telemetry"
)

// FunctionEnv names the function an instance serves.
const FunctionEnv = "ORDERSAGA_FUNCTION"

// builders are the functions this module can serve, by name: the constructors cmd/<name> use.
var builders = map[string]func(ctx context.Context) (function.Function, error){
	"order":      func(ctx context.Context) (function.Function, error) { return order.New(ctx) },
	"inventory":  func(ctx context.Context) (function.Function, error) { return inventory.New(ctx) },
	"payment":    func(ctx context.Context) (function.Function, error) { return payment.New(ctx) },
	"shipping":   func(ctx context.Context) (function.Function, error) { return shipping.New(ctx) },
	"user":       func(ctx context.Context) (function.Function, error) { return user.New(ctx) },
	"deadletter": func(ctx context.Context) (function.Function, error) { return deadletter.New(ctx) },
	"gateway":    func(ctx context.Context) (function.Function, error) { return gateway.New(ctx) },
}

// Instance is one running function, as func's middleware sees it.
type Instance struct {
	fn      function.Function
	handler atomic.Pointer[http.Handler] // nil until Start has built the function
	stop    context.CancelFunc           // ends the function's maintenance

	stopTracing func(context.Context) error // flushes the spans not yet exported
}

// New returns an instance; Start builds the function it serves.
func New() *Instance { return &Instance{} }

// Start builds the function named by ORDERSAGA_FUNCTION (connects, migrates). func's middleware
// calls it once, concurrently with serving: until it returns, Ready reports false and requests
// get 503, which the queue-proxy retries.
func (i *Instance) Start(ctx context.Context, cfg map[string]string) error {
	name := cfg[FunctionEnv]
	if name == "" {
		name = os.Getenv(FunctionEnv)
	}
	build, ok := builders[name]
	if !ok {
		names := make([]string, 0, len(builders))
		for n := range builders {
			names = append(names, n)
		}
		slices.Sort(names)
		return fmt.Errorf("%s=%q: want one of %v", FunctionEnv, name, names)
	}
	// Spans go where OTEL_* say, as function.Main does for the ko-built binaries.
	stopTracing, err := telemetry.StartTracing(name)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	i.stopTracing = stopTracing
	fn, err := build(ctx)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	if err := function.Check(fn); err != nil {
		function.Close(fn)
		return err
	}
	verifier, err := function.EventVerifier(fn)
	if err != nil {
		function.Close(fn)
		return fmt.Errorf("start %s: %w", name, err)
	}
	i.fn = fn
	if m, ok := fn.(function.Maintainer); ok { // as function.Main does for the ko-built binaries
		ctx, cancel := context.WithCancel(context.Background())
		i.stop = cancel
		go m.Maintain(ctx)
	}
	h := function.NewHandler(fn, verifier)
	i.handler.Store(&h)
	return nil
}

// Handle serves every request func's middleware does not answer itself (it owns /health/*).
func (i *Instance) Handle(w http.ResponseWriter, r *http.Request) {
	h := i.handler.Load()
	if h == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}

// Ready reports whether the function is built and its database answers.
func (i *Instance) Ready(ctx context.Context) (bool, error) {
	if i.handler.Load() == nil {
		return false, nil
	}
	if err := function.Ready(ctx, i.fn); err != nil {
		return false, err
	}
	return true, nil
}

// Alive reports the process is serving.
func (i *Instance) Alive(context.Context) (bool, error) { return true, nil }

// Stop releases the function after func's middleware has drained the server.
func (i *Instance) Stop(ctx context.Context) error {
	if i.stop != nil {
		i.stop()
	}
	if i.handler.Load() != nil {
		function.Close(i.fn)
	}
	if i.stopTracing != nil {
		return i.stopTracing(ctx)
	}
	return nil
}
