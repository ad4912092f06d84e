package httpapi

import (
	"net/http"
	"time"
)

// The limits of every server in the project (NewServer). They bound what a client that sends
// or reads slowly, or sends huge headers, can hold on to, while leaving room for the slowest
// legitimate request.
const (
	// ReadHeaderTimeout is how long a client has to send its request line and headers: a
	// Slowloris client that trickles them is disconnected after it.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request, body included. Bodies are small (MaxBodyBytes
	// for REST, twice events.MaxDataBytes for an event), so this is generous.
	ReadTimeout = 30 * time.Second
	// LongestRequest is the longest any handler may legitimately take: the dead-letter
	// function's bulk replay, whose Knative Service allows timeoutSeconds 300
	// (config/70-deadletter.yaml; the gateway proxies it, so it needs as long). Nothing in the
	// API streams: `ordersctl events tail` reads Kafka, and `orders watch` polls.
	LongestRequest = 300 * time.Second
	// WriteTimeout bounds handling a request and writing its answer (net/http counts it from
	// the end of the headers): LongestRequest and a margin, so it only ever stops a client that
	// does not read its answer, or a handler stuck past any caller's patience.
	WriteTimeout = LongestRequest + 30*time.Second
	// IdleTimeout is how long a keep-alive connection may wait for its next request.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds a request's headers (net/http's default is 1 MiB): a token cookie
	// and CloudEvents attributes take a few KiB (knativeerrordata is capped at 1 KiB by
	// Knative). Larger headers get 431.
	MaxHeaderBytes = 64 << 10
)

// NewServer is the one way this project builds an http.Server: h with the limits above. Every
// server uses it (function.Main, the local stack's gateway and broker ingress), so none can be
// left without timeouts.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}
