package local

import (
	"net/http"
	"net/http/httputil"
	"net/url"
)

// restRoutes maps each REST path of DESIGN.md section 5 to the function that serves it. The
// paths do not collide, so one gateway fronts them all, as an ingress would on a cluster.
var restRoutes = map[string]string{
	"/signup":       "user",
	"/login":        "user",
	"/logout":       "user",
	"/me":           "user",
	"/.well-known/": "user",
	"/items":        "inventory",
	"/items/":       "inventory",
	"/orders":       "order",
	"/orders/":      "order",
}

// newGateway returns the handler that proxies each REST path to its function's URL.
func newGateway(urls map[string]string) (http.Handler, error) {
	mux := http.NewServeMux()
	proxies := map[string]http.Handler{}
	// Keep connections to the functions alive under load (net/http's default keeps 2 per host).
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns, transport.MaxIdleConnsPerHost = 1000, 200
	for path, fn := range restRoutes {
		proxy, ok := proxies[fn]
		if !ok {
			target, err := url.Parse(urls[fn])
			if err != nil {
				return nil, err
			}
			p := httputil.NewSingleHostReverseProxy(target)
			p.Transport = transport
			proxy = p
			proxies[fn] = proxy
		}
		mux.Handle(path, proxy)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"no such path"}` + "\n"))
	})
	return mux, nil
}
