package gateway

import (
	"testing"
	"time"
)

// SetKeepAlive shortens the event streams' keep-alive (and token re-check) for tb.
func SetKeepAlive(tb testing.TB, d time.Duration) {
	old := keepAlive
	keepAlive = d
	tb.Cleanup(func() { keepAlive = old })
}
