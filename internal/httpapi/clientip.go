package httpapi

import (
	"net"
	"net/http"
	"strings"
)

// ClientIP is the address of the client a request comes from, for per-client rate limits. Behind
// the gateway it is the X-Forwarded-For the gateway sets: the gateway overwrites whatever the
// client sent (gateway.clientIP), and only the gateway reaches a function (cluster-local Services,
// NetworkPolicies). Without the header (a direct request) it is the peer's address.
func ClientIP(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		// The gateway sends exactly one address; anything longer did not come from it, and
		// its last entry is the one closest to us.
		parts := strings.Split(xff, ",")
		return strings.TrimSpace(parts[len(parts)-1])
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
