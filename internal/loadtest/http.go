// Package loadtest drives a running ordersaga the way a user does, over the gateway's REST API
// (internal/client), and watches the broker topic to see when each order reaches its terminal
// state. The stack's end-to-end tests and the benchmark (cmd/ordersaga-bench) share it.
package loadtest

import (
	"net/http"
	"time"
)

// HTTPClient is an HTTP client for client.New that keeps up to maxConns connections to the
// gateway alive, so that a run measures the saga rather than TCP handshakes.
func HTTPClient(maxConns int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = maxConns
	tr.MaxIdleConnsPerHost = maxConns
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}
