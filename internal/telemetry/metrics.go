package telemetry

import (
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ordersaga/ordersaga/internal/events"
)

// Registry holds every metric of this process: the ones below, and Go's and the process's own
// (memory, goroutines, CPU, open files). A process is one function, so names carry no function
// label: Prometheus adds the pod's, and the local stack adds `function` when it gathers them.
var Registry = prometheus.NewRegistry()

// Outcomes of handling an event, by the status the event endpoint answered (the retry contract).
const (
	OutcomeOK       = "ok"       // 2xx: handled (or a duplicate, answered from the inbox)
	OutcomeRejected = "rejected" // 4xx: can never succeed; the broker dead-letters it
	OutcomeFailed   = "failed"   // 5xx: transient; the broker retries it
)

// Where an outbox event was published from.
const (
	OutboxAfterCommit = "after_commit" // by the request that stored it, right after its commit
	OutboxSweep       = "sweep"        // by the sweep, after a failed or lost publish
)

// latencyBuckets (seconds) span a saga step (about a millisecond) to a request timeout.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

var (
	eventsHandled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ordersaga_events_handled_total",
		Help: "Events handled by this function, by CloudEvents type and outcome (ok, rejected: 4xx, failed: 5xx).",
	}, []string{"type", "outcome"})
	eventDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ordersaga_event_handler_duration_seconds",
		Help:    "Time to handle one event, from decoded to answered, by type and outcome.",
		Buckets: latencyBuckets,
	}, []string{"type", "outcome"})
	inboxDuplicates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ordersaga_inbox_duplicates_total",
		Help: "Events delivered again after they were handled: answered from the inbox with the stored reply, no effect.",
	}, []string{"type"})
	retriesSeen = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ordersaga_event_retries_seen_total",
		Help: "Events delivered again after this instance failed them (5xx): the broker's retries as the function sees them.",
	}, []string{"type"})
	outboxLag = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ordersaga_outbox_lag_seconds",
		Help:    "Time from an event's outbox row to the broker's acknowledgement, by path (after_commit, sweep).",
		Buckets: latencyBuckets,
	}, []string{"path"})
	outboxFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ordersaga_outbox_publish_failures_total",
		Help: "Outbox publishes that failed, by path; the rows stay for the next sweep.",
	}, []string{"path"})
	deadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ordersaga_dead_letters_received_total",
		Help: "Events the dead-letter sink received (a Trigger gave up on them), by type.",
	}, []string{"type"})
	httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ordersaga_http_requests_total",
		Help: "REST requests served, by method, route pattern and status code.",
	}, []string{"method", "route", "code"})
	httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ordersaga_http_request_duration_seconds",
		Help:    "Time to serve a REST request, by method and route pattern.",
		Buckets: latencyBuckets,
	}, []string{"method", "route"})
)

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		eventsHandled, eventDuration, inboxDuplicates, retriesSeen,
		outboxLag, outboxFailures, deadLetters, httpRequests, httpDuration,
	)
}

// MetricsHandler serves Registry in Prometheus' text format (GET /metrics).
func MetricsHandler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{})
}

// pingType is the PingSource's event, which ticks the order and dead-letter functions.
const pingType = "dev.knative.sources.ping"

// typeLabel is t as a label value: the saga's types and the PingSource's tick as they are,
// anything else "other", so that a sender cannot grow the metrics without bound.
func typeLabel(t string) string {
	if t == pingType || slices.Contains(events.All, events.Type(t)) || slices.Contains(events.Extensions, events.Type(t)) {
		return t
	}
	return "other"
}

// outcomeOf names an event endpoint's status.
func outcomeOf(status int) string {
	switch {
	case status >= 500:
		return OutcomeFailed
	case status >= 400:
		return OutcomeRejected
	}
	return OutcomeOK
}

// OutboxPublished records an outbox event published through path, stored at stored.
func OutboxPublished(path string, stored time.Time) {
	outboxLag.WithLabelValues(path).Observe(time.Since(stored).Seconds())
}

// OutboxPublishFailed records a publish through path that failed.
func OutboxPublishFailed(path string) { outboxFailures.WithLabelValues(path).Inc() }

// DeadLetterReceived records an event the dead-letter sink took in.
func DeadLetterReceived(eventType string) { deadLetters.WithLabelValues(typeLabel(eventType)).Inc() }
