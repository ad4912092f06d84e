package gateway

import (
	"net"
	"net/http"
	"strings"
)

// clientIP is the address of the client that sent r, which the gateway passes on as the one
// X-Forwarded-For (httpapi.ClientIP reads it; the user function's per-client login limit keys on
// it). What the client itself put in X-Forwarded-For is not believed: trustedProxies is how many
// proxies in front of the gateway append to it (0 locally: the peer is the client), and the
// client is the entry that many hops from the right of the chain (X-Forwarded-For, then the peer).
// A shorter chain than promised yields its leftmost entry.
func clientIP(r *http.Request, trustedProxies int) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	if trustedProxies <= 0 {
		return peer
	}
	var chain []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				chain = append(chain, part)
			}
		}
	}
	chain = append(chain, peer)
	return chain[max(0, len(chain)-1-trustedProxies)]
}
