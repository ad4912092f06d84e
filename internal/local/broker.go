package local

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/attributes"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"
	"knative.dev/eventing/pkg/kncloudevents"
	knerror "knative.dev/eventing/pkg/kncloudevents/attributes"
	"knative.dev/pkg/apis"

	"github.com/ordersaga/ordersaga/internal/eventauth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/kafka"
)

// triggerGroup is the Kafka broker's consumer group of a Trigger: knative-trigger-<namespace>-<name>
// (with an empty name, the prefix of every Trigger's group in namespace).
func triggerGroup(namespace, name string) string {
	return fmt.Sprintf("knative-trigger-%s-%s", namespace, name)
}

// Ingress is the Broker's front door, what K_SINK points at: every CloudEvent POSTed to it by a
// sender its EventPolicies allow (auth; anyone when nil) is produced to the broker's topic,
// keyed by its partition key.
type Ingress struct {
	client *kgo.Client
	topic  string
	auth   *eventauth.Verifier
}

func (in *Ingress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a CloudEvent", http.StatusMethodNotAllowed)
		return
	}
	if in.auth != nil {
		if _, err := in.auth.Authenticate(r); err != nil {
			status := eventauth.Refuse(w, err)
			slog.Warn("broker ingress: event refused", "status", status, "err", err, "remote", r.RemoteAddr)
			return
		}
	}
	// Refuse here what no subscriber could take: an accepted event must be deliverable, or at
	// least dead-letterable, never dropped after the 202.
	r.Body = http.MaxBytesReader(w, r.Body, maxIngressBytes)
	e, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		http.Error(w, fmt.Sprintf("event larger than %d bytes", maxIngressBytes), http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "not a CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	case len(e.Data()) > events.MaxDataBytes:
		http.Error(w, fmt.Sprintf("event data larger than %d bytes", events.MaxDataBytes), http.StatusRequestEntityTooLarge)
		return
	}
	if err := e.Validate(); err != nil {
		http.Error(w, "invalid CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := in.Produce(r.Context(), *e); err != nil {
		slog.Error("broker ingress: produce", "type", e.Type(), "err", err)
		http.Error(w, "cannot store the event", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// maxIngressBytes bounds a request to the ingress as the functions bound theirs: an event's data
// is at most events.MaxDataBytes, and a structured-mode body carries the attributes beside it.
const maxIngressBytes = 2 * events.MaxDataBytes

// Produce writes e to the broker topic and waits for the acknowledgement.
func (in *Ingress) Produce(ctx context.Context, e cloudevents.Event) error {
	rec, err := kafka.Record(in.topic, e)
	if err != nil {
		return err
	}
	return in.client.ProduceSync(ctx, rec).FirstErr()
}

// ProduceAll writes events to the broker topic in one batch and returns those to try again
// (nil when all were written). An event that can never be written (it does not convert to a
// record, or Kafka refuses it as too large or invalid) is logged and left out: retrying it would
// hold up everything behind it for ever.
func (in *Ingress) ProduceAll(ctx context.Context, events []cloudevents.Event) (retry []cloudevents.Event) {
	records := make([]*kgo.Record, 0, len(events))
	eventOf := make(map[*kgo.Record]cloudevents.Event, len(events)) // results come in completion order
	for _, e := range events {
		rec, err := kafka.Record(in.topic, e)
		if err != nil {
			slog.Error("broker: event dropped: it cannot be a Kafka record", "id", e.ID(), "type", e.Type(), "err", err)
			continue
		}
		records = append(records, rec)
		eventOf[rec] = e
	}
	for _, res := range in.client.ProduceSync(ctx, records...) {
		switch e := eventOf[res.Record]; {
		case res.Err == nil:
		case neverProducible(res.Err):
			slog.Error("broker: event dropped: Kafka refuses it", "id", e.ID(), "type", e.Type(), "err", res.Err)
		default:
			retry = append(retry, e)
		}
	}
	return retry
}

// neverProducible reports the produce errors no retry can cure.
func neverProducible(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord)
}

// TriggerDispatcher delivers the broker topic to one Trigger's subscriber, as the Kafka broker's
// dispatcher does: its own consumer group's offsets, the Trigger's filters (Knative's own filter
// code), its delivery spec (retry, backoff, timeout, dead-letter sink with the knativeerror*
// extensions), replies sent back to the broker ingress, and offsets committed only once an event
// is delivered or dead-lettered. Unordered, events are delivered as they come, up to
// MaxInFlight at once; ordered, one at a time per partition.
type TriggerDispatcher struct {
	Trigger    *eventingv1.Trigger
	Subscriber string // resolved subscriber URL
	DeadLetter string // resolved dead-letter sink URL, or ""
	Reply      string // the broker ingress URL, where replies go when Producer is nil
	// Producer, when set, produces replies straight to the broker topic.
	Producer *Ingress
	Delivery eventingduckv1.DeliverySpec
	Topic    string
	// Kafka is how the dispatcher reaches the broker topic (the Broker's principal).
	Kafka kafka.Config
	// MaxInFlight bounds the events fetched and not yet finished (defaultMaxInFlight when 0).
	MaxInFlight int
	// Quiet drops the per-hop log line (benchmarks); failures are logged regardless.
	Quiet bool
	// Tokens, when set, mints the Trigger's sender token for each delivery: with
	// SubscriberAudience to the subscriber, DeadLetterAudience to the dead-letter sink and
	// ReplyAudience to the broker (replies over HTTP). Unset, deliveries carry no token.
	Tokens             *eventauth.Minter
	SubscriberAudience string
	DeadLetterAudience string
	ReplyAudience      string

	feed *triggerFeed // the records of the broker topic for this Trigger
	// targets are Subscriber, Reply and DeadLetter, parsed once.
	targets struct{ subscriber, reply, deadLetter *apis.URL }
	filter  eventfilter.Filter
	sender  *eventSender
	retry   kncloudevents.RetryConfig
}

// filterFor builds the Trigger's filter with Knative's code: the `filters` dialect when present,
// otherwise the legacy attribute filter.
func filterFor(t *eventingv1.Trigger) eventfilter.Filter {
	if len(t.Spec.Filters) > 0 {
		return subscriptionsapi.CreateSubscriptionsAPIFilters(zap.NewNop(), t.Spec.Filters)
	}
	attrs := map[string]string{}
	if t.Spec.Filter != nil {
		for k, v := range t.Spec.Filter.Attributes {
			attrs[k] = v
		}
	}
	return attributes.NewAttributesFilter(attrs)
}

// exactTypeOf returns the event type t's filter selects when it selects on nothing else (one
// `exact: {type: X}` filter, or the legacy attribute filter on type alone), else "".
func exactTypeOf(t *eventingv1.Trigger) string {
	if f := t.Spec.Filters; len(f) == 1 && len(f[0].Exact) == 1 && f[0].Exact["type"] != "" &&
		len(f[0].Prefix) == 0 && len(f[0].Suffix) == 0 && len(f[0].All) == 0 && len(f[0].Any) == 0 && f[0].Not == nil && f[0].CESQL == "" {
		return f[0].Exact["type"]
	}
	if len(t.Spec.Filters) == 0 && t.Spec.Filter != nil && len(t.Spec.Filter.Attributes) == 1 {
		return t.Spec.Filter.Attributes["type"]
	}
	return ""
}

// Run consumes until ctx ends: from the feed the stack's shared reader gives it (readFrom), or,
// when run alone, from a reader of its own.
//
// Delivery is continuous: records are taken while earlier ones are still being delivered, up
// to MaxInFlight per Trigger, so an event waiting out its back-off holds up nothing but the
// events behind it in its own partition (ordered delivery) or nothing at all (unordered). Each
// partition's committed offset stays below the first event not yet delivered or dead-lettered.
func (d *TriggerDispatcher) Run(ctx context.Context) (err error) {
	feed := d.feed
	if feed == nil {
		reader := newTopicReader(d.Kafka, d.Topic)
		feed = d.readFrom(reader)
		var stopDelivering context.CancelFunc
		ctx, stopDelivering = context.WithCancel(ctx)
		readerCtx, stopReading := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			err := reader.Run(readerCtx)
			stopDelivering() // a reader that failed leaves nothing to deliver: Run returns its error
			done <- err
		}()
		defer func() { // after feed.close below: the reader's last commit waits for it
			stopReading()
			if readErr := <-done; readErr != nil {
				err = readErr
			}
		}()
	}
	defer feed.close()
	d.filter = filterFor(d.Trigger)
	defer d.filter.Cleanup()
	d.targets.subscriber, d.targets.reply = parseTarget(d.Subscriber), parseTarget(d.Reply)
	if d.DeadLetter != "" {
		d.targets.deadLetter = parseTarget(d.DeadLetter)
	}
	d.sender = sharedSender()
	retry, err := kncloudevents.RetryConfigFromDeliverySpec(d.Delivery)
	if err != nil {
		return fmt.Errorf("trigger %s: %w", d.Trigger.Name, err)
	}
	if retry.RetryAfterMaxDuration != nil {
		// Knative's alpha delivery-retryafter feature: eventSender does not honour Retry-After.
		return fmt.Errorf("trigger %s: retryAfterMax is not supported by the local stack", d.Trigger.Name)
	}
	d.retry = retry
	if d.MaxInFlight <= 0 {
		d.MaxInFlight = defaultMaxInFlight
	}

	var running sync.WaitGroup
	defer running.Wait() // deliveries cut off by ctx end quickly and are not marked
	perPartition := newLanes()
	ordered := deliveryOrder(d.Trigger) == orderedDelivery
	slots := make(chan struct{}, d.MaxInFlight) // one per record taken and not yet finished
	for {
		select { // wait for room before taking more
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		// Ordered, a partition whose event waits out its back-off keeps what is behind it in
		// its lane: past perPartitionWaiting, the rest of it stays in the feed, so it never
		// takes every slot and with them the Trigger's other partitions.
		var admit func(partition int32) bool
		if ordered {
			taking, refused := map[int32]int{}, map[int32]bool{}
			admit = func(p int32) bool {
				// Once a partition's record is refused, so are its later ones in this take:
				// taking a later one (its lane drained meanwhile) would break its order.
				if refused[p] || perPartition.waiting(strconv.Itoa(int(p)))+taking[p] >= perPartitionWaiting {
					refused[p] = true
					return false
				}
				taking[p]++
				return true
			}
		}
		records := feed.take(ctx, 1+cap(slots)-len(slots), admit)
		if len(records) == 0 {
			return nil // ctx ended
		}
		for i, r := range records {
			if i > 0 {
				slots <- struct{}{} // never blocks: take returned no more than the room
			}
			e, ok := d.accepts(ctx, r)
			if !ok {
				feed.finished(r)
				<-slots
				continue
			}
			running.Add(1)
			work := func() {
				defer running.Done()
				if d.deliver(ctx, e) {
					feed.finished(r) // cut off by shutdown otherwise: never committed past
				}
				<-slots
				if ordered {
					feed.signal() // its partition may take more again
				}
			}
			if ordered {
				perPartition.run(strconv.Itoa(int(r.Partition)), work)
			} else {
				go work()
			}
		}
	}
}

// readFrom subscribes d to reader, the broker topic's records shared with the other Triggers;
// call it before reader.Run.
func (d *TriggerDispatcher) readFrom(reader *topicReader) *triggerFeed {
	exactType := exactTypeOf(d.Trigger)
	d.feed = reader.subscribe(triggerGroup(d.Trigger.Namespace, d.Trigger.Name), func(r *kgo.Record) bool {
		// Every Trigger sees every record; most are for other Triggers. When the filter is just
		// an exact type, the header tells without decoding the event.
		t := kafka.Type(r)
		return exactType == "" || t == "" || t == exactType
	})
	return d.feed
}

// defaultMaxInFlight bounds the events one Trigger has taken and not yet finished: a burst
// reaches the subscriber with up to this many concurrent requests (unordered). In ordered
// delivery the events waiting behind each partition's current one count too, at most
// perPartitionWaiting per partition.
const defaultMaxInFlight = 256

// perPartitionWaiting is how many events an ordered Trigger takes behind a partition's current
// one; the rest of that partition waits in the feed.
const perPartitionWaiting = 32

// Delivery orders, as the Kafka broker's kafka.eventing.knative.dev/delivery.order annotation
// names them: ordered keeps each partition's events in sequence, one at a time; unordered
// delivers every event as soon as it is fetched.
const (
	deliveryOrderAnnotation = "kafka.eventing.knative.dev/delivery.order"
	orderedDelivery         = "ordered"
	unorderedDelivery       = "unordered"
)

// deliveryOrder is t's delivery order: unordered unless its annotation says ordered, as on a
// cluster.
func deliveryOrder(t *eventingv1.Trigger) string {
	if t.Annotations[deliveryOrderAnnotation] == orderedDelivery {
		return orderedDelivery
	}
	return unorderedDelivery
}

// accepts decodes r and applies the Trigger's filter: the event to deliver, or ok false when
// this Trigger does not take it.
func (d *TriggerDispatcher) accepts(ctx context.Context, r *kgo.Record) (cloudevents.Event, bool) {
	e, err := kafka.Event(r)
	if err != nil {
		slog.Warn("dispatcher: record is not a CloudEvent; skipped", "trigger", d.Trigger.Name, "offset", r.Offset, "err", err)
		return cloudevents.Event{}, false
	}
	if d.filter.Filter(ctx, e) != eventfilter.PassFilter {
		return cloudevents.Event{}, false
	}
	return e, true
}

// deliver sends e to the subscriber with the Trigger's retries, then its reply to the broker or
// e to the dead-letter sink. It reports whether e is finished (delivered, dead-lettered, or
// failed for good); false means shutdown cut it off and it must be delivered again.
func (d *TriggerDispatcher) deliver(ctx context.Context, e cloudevents.Event) bool {
	// As the Kafka broker's dispatcher does: the subscriber gets the event with the Trigger's
	// retries; the reply is produced straight to the broker topic (no HTTP hop through the
	// ingress), and only an event whose delivery failed is dead-lettered, with Knative's
	// knativeerror* extensions.
	subscriber := d.targets.subscriber
	info, err := d.sender.send(ctx, e, subscriber, &d.retry, d.authorization(d.SubscriberAudience))
	status, latency, failedAt := info.ResponseCode, info.Duration, subscriber
	if err == nil {
		if err = d.reply(ctx, info); err != nil {
			failedAt = d.targets.reply
		}
	}
	deadLettered := false
	if err != nil && ctx.Err() == nil && d.DeadLetter != "" {
		// An event is done only once delivered or dead-lettered: while the sink is down (no
		// answer, 5xx, 429), keep trying rather than drop the event; this holds up the Trigger's
		// next batch, as its offset must not be committed. A sink that refuses the event (4xx)
		// never will take it: that is logged as a drop below.
		for {
			var sinkStatus int
			if sinkStatus, err = d.deadLetter(ctx, e, failedAt, info); err == nil {
				deadLettered = true
				break
			}
			if sinkStatus >= 400 && sinkStatus < 500 && sinkStatus != http.StatusTooManyRequests {
				break
			}
			slog.Warn("dispatcher: dead-letter sink unavailable; retrying", "trigger", d.Trigger.Name, "type", e.Type(), "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
				continue
			}
			break
		}
	}
	d.recordDelivery(status, latency, err, deadLettered, ctx.Err() != nil)
	attrs := []any{"type", e.Type(), "order", e.Subject(), "function", subscriberName(d.Trigger), "status", status,
		"latency_ms", float64(latency.Microseconds()) / 1000}
	switch {
	case err != nil && ctx.Err() != nil:
		// Stopping: the delivery was cut off and its offset is not committed, so it is
		// delivered again on the next start. Not a dead letter.
		return false
	case err != nil:
		slog.Error("hop failed, event dropped", append(attrs, "err", err)...)
	case deadLettered:
		slog.Warn("hop dead-lettered", attrs...)
	case !d.Quiet:
		slog.Info("hop", attrs...)
	}
	return true
}

// reply sends the subscriber's reply event, if its response carried one, to the broker:
// produced to the topic by Producer (retried until it is stored or ctx ends), or else POSTed to
// the Reply URL with the Trigger's retries.
func (d *TriggerDispatcher) reply(ctx context.Context, info *kncloudevents.DispatchInfo) error {
	msg := cehttp.NewMessage(info.ResponseHeader, io.NopCloser(bytes.NewReader(info.ResponseBody)))
	if msg.ReadEncoding() == binding.EncodingUnknown {
		return nil // no reply
	}
	reply, err := binding.ToEvent(ctx, msg)
	if err != nil {
		return fmt.Errorf("the reply is not a valid CloudEvent: %w", err)
	}
	if d.Producer == nil {
		if d.Reply == "" {
			return nil
		}
		_, err := d.sender.send(ctx, *reply, d.targets.reply, &d.retry, d.authorization(d.ReplyAudience))
		return err
	}
	for {
		err := d.Producer.Produce(ctx, *reply)
		if err == nil || ctx.Err() != nil {
			return err
		}
		slog.Warn("dispatcher: cannot produce the reply; retrying", "trigger", d.Trigger.Name, "type", reply.Type(), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// deadLetter sends e to the dead-letter sink with the knativeerrordest, knativeerrorcode and
// knativeerrordata (the failed response's body, base64) extensions, as Knative's dispatcher does.
// It returns the sink's last status (500 when it did not answer, as Knative's dispatcher
// reports it).
func (d *TriggerDispatcher) deadLetter(ctx context.Context, e cloudevents.Event, failedAt *apis.URL, info *kncloudevents.DispatchInfo) (int, error) {
	data := base64.StdEncoding.EncodeToString(info.ResponseBody)
	sent, err := d.sender.send(ctx, e, d.targets.deadLetter, &d.retry, d.authorization(d.DeadLetterAudience),
		knerror.KnativeErrorTransformers(*failedAt.URL(), info.ResponseCode, data)...)
	return sent.ResponseCode, err
}

// authorization is the header with the Trigger's token for audience, as Knative's dispatcher
// sends with authentication-oidc on; none without Tokens. The token is minted (or
// reused) once per send: its retries fit in the third of its life a reused token still has. A
// token that cannot be minted is left out, and the receiver's 401 goes the usual way.
func (d *TriggerDispatcher) authorization(audience string) http.Header {
	header := http.Header{}
	if d.Tokens != nil {
		if token, err := d.Tokens.Token(audience); err != nil {
			slog.Error("dispatcher: cannot mint a token", "trigger", d.Trigger.Name, "audience", audience, "err", err)
		} else {
			header.Set("Authorization", "Bearer "+token)
		}
	}
	return header
}

func subscriberName(t *eventingv1.Trigger) string {
	if ref := t.Spec.Subscriber.Ref; ref != nil {
		return ref.Name
	}
	return t.Spec.Subscriber.URI.String()
}

// parseTarget parses a delivery target's URL (nil for "").
func parseTarget(rawURL string) *apis.URL {
	u, err := apis.ParseURL(rawURL)
	if err != nil {
		panic(fmt.Sprintf("resolved URL %q does not parse: %v", rawURL, err)) // URLs are built by this package
	}
	return u
}
