package gateway

import (
	"net"
	"net/http"
	"strings"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// LocalHandler is Handler for the local stack, listening on listenAddr: it also refuses every
// request whose Host is not a local name, against DNS rebinding. A web page on evil.example can
// make its name resolve to 127.0.0.1 and then call the gateway from the victim's browser as a
// same-origin request; its Host header still says evil.example, which is what is checked here.
// Accepted: localhost, any IP literal (an address cannot be rebound), and listenAddr's host.
// Others get 400 with a JSON error. A cluster's gateway is reached by its public name and does
// not check (Handler, New).
func LocalHandler(urls map[string]string, listenAddr string, source ...EventSource) (http.Handler, error) {
	h, err := Handler(urls, source...)
	if err != nil {
		return nil, err
	}
	return LocalHostsOnly(h, listenAddr), nil
}

// LocalHostsOnly is LocalHandler's Host check around any handler served on listenAddr (the
// local stack's own paths beside the gateway's).
func LocalHostsOnly(next http.Handler, listenAddr string) http.Handler {
	listenHost, _, err := net.SplitHostPort(listenAddr)
	if err != nil {
		listenHost = listenAddr
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isLocalHost(r.Host, listenHost) {
			httpapi.WriteError(w, r, apperr.Errorf(apperr.Invalid, "Host %q is not served here: use localhost or an IP address", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isLocalHost reports whether hostport (a Host header) names this machine in a way a DNS
// rebinding attack cannot produce.
func isLocalHost(hostport, listenHost string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	switch {
	case host == "":
		return false
	case strings.EqualFold(host, "localhost"), strings.EqualFold(host, listenHost):
		return true
	}
	return net.ParseIP(host) != nil
}
