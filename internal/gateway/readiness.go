package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// upstreamTimeout bounds one function's readiness check, so a hung function makes the gateway
// not ready rather than its probe hang.
const upstreamTimeout = 2 * time.Second

// readiness is the gateway's GET /health/readiness: the gateway is ready once every function
// behind it answers its own /health/readiness with 200. A script can wait on it for the whole
// stack, and a cluster keeps the gateway out of rotation while its functions are down.
type readiness struct {
	client    *http.Client
	upstreams map[string]string // base URL by function name
}

func newReadiness(upstreams map[string]string) *readiness {
	return &readiness{client: &http.Client{Timeout: upstreamTimeout}, upstreams: upstreams}
}

// notReady returns the names of the functions that are not ready, sorted; none when all are.
func (rd *readiness) notReady(ctx context.Context) []string {
	var mu sync.Mutex
	var names []string
	var wg sync.WaitGroup
	for name, base := range rd.upstreams {
		wg.Go(func() {
			if err := rd.check(ctx, base); err != nil {
				slog.WarnContext(ctx, "gateway: function not ready", "function", name, "err", err)
				mu.Lock()
				names = append(names, name)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(names)
	return names
}

// check asks the function at base for its readiness. Errors: the request's, or the status when
// it is not 200.
func (rd *readiness) check(ctx context.Context, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/health/readiness", nil)
	if err != nil {
		return err
	}
	resp, err := rd.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readiness answered %d", resp.StatusCode)
	}
	return nil
}

// notReadyError names the functions that are not ready.
func notReadyError(names []string) error {
	return fmt.Errorf("not ready: %s", strings.Join(names, ", "))
}

// ServeHTTP answers 200 when every function is ready, otherwise 503 with a JSON body naming the
// ones that are not: {"error":"not ready: inventory, order","not_ready":["inventory","order"]}.
// Function names are not secrets; the causes go to the log only.
func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	names := rd.notReady(r.Context())
	if len(names) == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	httpapi.WriteJSON(w, http.StatusServiceUnavailable, struct {
		Error    string   `json:"error"`
		NotReady []string `json:"not_ready"`
	}{notReadyError(names).Error(), names})
}
