package telemetry

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/ordersaga/ordersaga/internal/events"
)

// registry holds every metric of this process. A process is one function, so series carry no
// function label: Prometheus adds the pod's, and the local stack adds `function` when it gathers
// them. VictoriaMetrics' metrics package writes Prometheus' text format without the protobuf
// model of Prometheus' own client: about 2 MB less idle memory and 3 MB less binary in every
// function (measured: docs/OBSERVABILITY.md).
var registry = metrics.NewSet()

func init() {
	metrics.ExposeMetadata(true) // # TYPE lines, so that counters and histograms parse as such
}

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

// The metrics (docs/OBSERVABILITY.md lists them with their labels).
const (
	eventsHandled   = "ordersaga_events_handled_total"           // type, outcome
	eventDuration   = "ordersaga_event_handler_duration_seconds" // type, outcome
	inboxDuplicates = "ordersaga_inbox_duplicates_total"         // type
	retriesSeen     = "ordersaga_event_retries_seen_total"       // type
	outboxLag       = "ordersaga_outbox_lag_seconds"             // path
	outboxFailures  = "ordersaga_outbox_publish_failures_total"  // path
	deadLetters     = "ordersaga_dead_letters_received_total"    // type
	httpRequests    = "ordersaga_http_requests_total"            // method, route, code
	httpDuration    = "ordersaga_http_request_duration_seconds"  // method, route
)

// latencyBuckets (seconds) span a saga step (about a millisecond) to a request timeout.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// series names one series of family: family{k1="v1",...} from label name and value pairs.
func series(family string, labels ...string) string {
	var b strings.Builder
	b.WriteString(family)
	for i := 0; i+1 < len(labels); i += 2 {
		if i == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(labels[i])
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(labels[i+1]))
		b.WriteByte('"')
	}
	if len(labels) > 0 {
		b.WriteByte('}')
	}
	return b.String()
}

// labelEscaper escapes a label value as Prometheus' text format does: backslash, double quote
// and line feed, nothing else.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func count(family string, labels ...string) {
	registry.GetOrCreateCounter(series(family, labels...)).Inc()
}

func observe(family string, seconds float64, labels ...string) {
	registry.GetOrCreatePrometheusHistogramExt(series(family, labels...), latencyBuckets).Update(seconds)
}

// MetricsHandler serves the registry, and Go's and the process's own metrics (memory,
// goroutines, CPU, open files), in Prometheus' text format (GET /metrics).
func MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		registry.WritePrometheus(w)
		metrics.WriteProcessMetrics(w)
	})
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
	observe(outboxLag, time.Since(stored).Seconds(), "path", path)
}

// OutboxPublishFailed records a publish through path that failed.
func OutboxPublishFailed(path string) { count(outboxFailures, "path", path) }

// DeadLetterReceived records an event the dead-letter sink took in.
func DeadLetterReceived(eventType string) { count(deadLetters, "type", typeLabel(eventType)) }
