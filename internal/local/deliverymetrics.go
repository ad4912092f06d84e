package local

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// deliveryRegistry holds the emulated data plane's own metrics, what the Kafka broker's
// dispatcher reports on a cluster: deliveries per Trigger by outcome, their latency, and the
// events dead-lettered. The stack serves them beside the functions' (metrics.go).
var deliveryRegistry = prometheus.NewRegistry()

// Outcomes of one event's delivery to one Trigger's subscriber.
const (
	deliveryDelivered    = "delivered"     // the subscriber took it (2xx) and its reply, if any, reached the broker
	deliveryDeadLettered = "dead_lettered" // retries spent or refused (4xx): stored by the dead-letter sink
	deliveryDropped      = "dropped"       // failed, and no dead-letter sink took it
)

var (
	deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ordersaga_local_deliveries_total",
		Help: "Events the local broker delivered to a Trigger's subscriber, by trigger, subscriber and outcome (delivered, dead_lettered, dropped).",
	}, []string{"trigger", "subscriber", "outcome"})
	deliveryDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ordersaga_local_delivery_duration_seconds",
		Help:    "Time to deliver an event to a Trigger's subscriber, its retries and back-off included, by trigger.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	}, []string{"trigger"})
	deadLettered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ordersaga_local_dead_lettered_total",
		Help: "Events the local broker dead-lettered, by trigger and the subscriber's last status (0: no answer).",
	}, []string{"trigger", "status"})
)

func init() {
	deliveryRegistry.MustRegister(deliveries, deliveryDuration, deadLettered)
}

// recordDelivery counts one finished delivery (deliver calls it once per event): its
// subscriber's last status, the time Knative's dispatcher took (negative when it never sent),
// the error that ended it, whether the dead-letter sink took it, and whether the stack is
// stopping, in which case the delivery was cut off, is not finished, and is not counted.
func (d *TriggerDispatcher) recordDelivery(status int, latency time.Duration, err error, wasDeadLettered, stopping bool) {
	if err != nil && stopping {
		return
	}
	outcome := deliveryDelivered
	switch {
	case wasDeadLettered:
		outcome = deliveryDeadLettered
		deadLettered.WithLabelValues(d.Trigger.Name, strconv.Itoa(status)).Inc()
	case err != nil:
		outcome = deliveryDropped
	}
	deliveries.WithLabelValues(d.Trigger.Name, subscriberName(d.Trigger), outcome).Inc()
	if latency >= 0 {
		deliveryDuration.WithLabelValues(d.Trigger.Name).Observe(latency.Seconds())
	}
}
