// Package gateway is the one public entry to the system: a reverse proxy that forwards the REST
// paths of docs/CONTRACTS.md ("REST") to the function serving each, and nothing else. The functions
// themselves stay cluster-local, so nobody outside can POST a saga event to them; only the
// broker can. The local stack serves the same handler on 127.0.0.1:8080.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/kelseyhightower/envconfig"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/httpapi"
	"github.com/ordersaga/ordersaga/internal/kafka"
	"github.com/ordersaga/ordersaga/internal/telemetry"
)

// Routes maps each REST path to the function that serves it. The paths do not collide, so one
// gateway fronts them all.
var Routes = map[string]string{
	"/signup":       "user",
	"/login":        "user",
	"/logout":       "user",
	"/me":           "user",
	"/.well-known/": "user",
	"/items":        "inventory",
	"/items/":       "inventory",
	"/orders":       "order",
	"/orders/":      "order",
	"/deadletters":  "deadletter",
	"/deadletters/": "deadletter",
}

// proxies returns a reverse proxy per route, to urls[function], each refusing oversized bodies
// itself (limitBody). trustedProxies is Config.TrustedProxies (see clientIP).
func proxies(urls map[string]string, trustedProxies int) (map[string]http.Handler, error) {
	// Keep connections to the functions alive under load (net/http's default keeps 2 per host).
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns, transport.MaxIdleConnsPerHost = 1000, 200
	byFunction := map[string]http.Handler{}
	out := map[string]http.Handler{}
	for path, fn := range Routes {
		proxy, ok := byFunction[fn]
		if !ok {
			target, err := url.Parse(urls[fn])
			if err != nil || target.Host == "" {
				return nil, fmt.Errorf("gateway: no URL for the %s function", fn)
			}
			proxy = &httputil.ReverseProxy{
				// SetURL also sets the Host header to the function's: on a cluster, Knative's
				// ingress picks the Service by Host, so the public one must not be passed on.
				Rewrite: func(pr *httputil.ProxyRequest) {
					pr.SetURL(target)
					pr.SetXForwarded()
					// One address, the client's as far as the gateway can tell; never the
					// client's own claim, which the per-client login limit would believe.
					pr.Out.Header.Set("X-Forwarded-For", clientIP(pr.In, trustedProxies))
					// The function's span continues the gateway's (when the runtime traces it).
					telemetry.InjectHTTP(pr.In.Context(), pr.Out.Header)
				},
				Transport: transport,
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					if isTooLarge(err) {
						httpapi.WriteError(w, r, errTooLarge)
						return
					}
					slog.WarnContext(r.Context(), "gateway: function unreachable", "function", fn, "err", err)
					httpapi.WriteJSON(w, http.StatusBadGateway, map[string]string{"error": "the " + fn + " function is unavailable; try again"})
				},
			}
			proxy = limitBody(proxy)
			byFunction[fn] = proxy
		}
		out[path] = proxy
	}
	return out, nil
}

// Handler proxies each route to its function's base URL (urls by function name), serves the
// gateway's readiness (every function behind it ready) on GET /health/readiness and the web
// console on /console/, its event flow and timelines read from source (at most one; without it
// they answer 503), and answers every other path with a JSON 404. The local stack serves it; a
// cluster runs Function.
func Handler(urls map[string]string, source ...EventSource) (http.Handler, error) {
	if len(source) > 1 {
		return nil, fmt.Errorf("gateway: one event source at most, not %d", len(source))
	}
	var src *EventSource
	if len(source) == 1 {
		src = &source[0]
	}
	f, err := open(urls, 0, src, auth.Config{})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	f.Routes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, apperr.Errorf(apperr.NotFound, "no such path"))
	})
	return mux, nil
}

// Config is where the functions are, from the environment (cluster-local URLs on a cluster).
type Config struct {
	UserURL      string `envconfig:"USER_URL" required:"true"`
	OrderURL     string `envconfig:"ORDER_URL" required:"true"`
	InventoryURL string `envconfig:"INVENTORY_URL" required:"true"`
	// DeadletterURL is the dead-letter function, whose admin API the gateway fronts.
	DeadletterURL string `envconfig:"DEADLETTER_URL" required:"true"`
	// TrustedProxies is how many proxies in front of the gateway append the address they got a
	// request from to X-Forwarded-For (Knative's ingress and queue-proxy on a cluster); see
	// clientIP. 0 (the default) trusts none: every client then counts as its nearest proxy, so
	// per-client limits become shared ones, which errs on the safe side.
	TrustedProxies int `envconfig:"GATEWAY_TRUSTED_PROXIES" default:"0"`
	// Kafka is how the console reads the broker's topic (KAFKA_BROKERS, KAFKA_SASL_*, KAFKA_TLS*:
	// the ordersaga-console KafkaUser, read-only); without brokers the console shows no event
	// flow and no timelines.
	Kafka kafka.Config `envconfig:"KAFKA"`
	// ConsoleTopic is the broker's topic, which carries every event of the saga.
	ConsoleTopic string `envconfig:"CONSOLE_TOPIC" default:"knative-broker-ordersaga-default"`
	// The console verifies access tokens as every function does (AUTH_PUBLIC_KEY, AUTH_JWKS_URL);
	// with neither set, against the JWKS of the user function at USER_URL.
	auth.Config
}

// Function runs the gateway in the functions' shared runtime (probes, graceful shutdown). It is
// a function.RouteRegistrar and a function.Readier only: it reacts to no events, so it has no
// event endpoint.
type Function struct {
	routes    map[string]http.Handler
	readiness *readiness
	console   *console
}

// New builds the gateway from the environment.
func New(context.Context) (*Function, error) {
	var cfg Config
	if err := envconfig.Process("", &cfg); err != nil {
		return nil, err
	}
	if cfg.TrustedProxies < 0 {
		return nil, fmt.Errorf("GATEWAY_TRUSTED_PROXIES must be 0 or more, not %d", cfg.TrustedProxies)
	}
	var src *EventSource
	if len(cfg.Kafka.Brokers) > 0 {
		if _, err := cfg.Kafka.Opts(); err != nil {
			return nil, err
		}
		src = &EventSource{Kafka: cfg.Kafka, Topic: cfg.ConsoleTopic}
	}
	return open(map[string]string{"user": cfg.UserURL, "order": cfg.OrderURL, "inventory": cfg.InventoryURL, "deadletter": cfg.DeadletterURL}, cfg.TrustedProxies, src, cfg.Config)
}

// open builds the gateway in front of urls (base URL by function name), its console reading
// src (nil: none) and verifying callers as keys says (the user function's JWKS when empty).
func open(urls map[string]string, trustedProxies int, src *EventSource, keys auth.Config) (*Function, error) {
	routes, err := proxies(urls, trustedProxies)
	if err != nil {
		return nil, err
	}
	upstreams := map[string]string{}
	for _, fn := range Routes {
		upstreams[fn] = urls[fn]
	}
	if keys == (auth.Config{}) {
		keys.JWKSURL = strings.TrimSuffix(urls["user"], "/") + "/.well-known/jwks.json"
	}
	con, err := newConsole(keys, src, urls["order"])
	if err != nil {
		return nil, err
	}
	return &Function{routes: routes, readiness: newReadiness(upstreams), console: con}, nil
}

// Routes adds the proxied REST paths, the web console and the gateway's own readiness probe,
// which replaces the runtime's.
func (f *Function) Routes(mux *http.ServeMux) {
	for path, h := range f.routes {
		mux.Handle(path, h)
	}
	mux.Handle("GET /health/readiness", f.readiness)
	// The runtime serves every function's metrics on GET /metrics; the gateway's port is the
	// public one, so it keeps its own to itself (Knative's queue-proxy counts its requests).
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, apperr.Errorf(apperr.NotFound, "no such path"))
	})
	f.console.routes(mux)
}

// Ready reports whether every function behind the gateway is ready (for knative/func's
// middleware, which serves the probes itself). Errors: one naming the functions not ready.
func (f *Function) Ready(ctx context.Context) error {
	if names := f.readiness.notReady(ctx); len(names) > 0 {
		return notReadyError(names)
	}
	return nil
}
