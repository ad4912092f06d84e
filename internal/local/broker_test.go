package local

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/kafka"
	"github.com/ordersaga/ordersaga/internal/manifests"
)

// waitLimit bounds every wait in these tests: generous, since the machine may be busy. Reaching
// it fails the test; nothing asserts on how fast things happen.
const waitLimit = 60 * time.Second

const testTopic = "knative-broker-ordersaga-default"

// kafkaCluster starts an embedded broker with topic (partitions partitions) for one test.
func kafkaCluster(t *testing.T, partitions int32, topics ...string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func kafkaClient(t *testing.T, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// testEvent is a CloudEvent of type typ keyed (partitionkey, subject) by key, carrying seq.
func testEvent(t *testing.T, typ, key string, seq int) cloudevents.Event {
	t.Helper()
	e := cloudevents.NewEvent()
	e.SetID(uuid.NewString())
	e.SetSource("/test")
	e.SetType(typ)
	e.SetSubject(key)
	e.SetExtension(events.PartitionKey, key)
	if err := e.SetData(cloudevents.ApplicationJSON, map[string]any{"key": key, "seq": seq}); err != nil {
		t.Fatal(err)
	}
	return e
}

// produce writes events to topic in the Kafka binary binding, in order.
func produce(t *testing.T, c *kgo.Client, topic string, es ...cloudevents.Event) {
	t.Helper()
	for _, e := range es {
		r, err := kafka.Record(topic, e)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// trigger parses a Trigger from YAML with the manifests package and checks it is valid, as the
// stack does.
func trigger(t *testing.T, name, typ, subscriber, delivery string) *eventingv1.Trigger {
	t.Helper()
	doc := fmt.Sprintf(`apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: %s
  namespace: ordersaga
spec:
  broker: default
  filters:
    - exact:
        type: %s
  subscriber:
    uri: %s
%s`, name, typ, subscriber, delivery)
	set, err := manifests.Parse("trigger.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Validate(context.Background(), nil); err != nil {
		t.Fatalf("test trigger is invalid: %v", err)
	}
	if len(set.Triggers) != 1 {
		t.Fatalf("%d triggers parsed", len(set.Triggers))
	}
	return set.Triggers[0]
}

// ingress serves a broker ingress producing to topic and returns its URL.
func ingress(t *testing.T, brokers []string, topic string) string {
	t.Helper()
	in := &Ingress{client: kafkaClient(t, brokers, kgo.RequiredAcks(kgo.AllISRAcks())), topic: topic}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	return srv.URL
}

// dispatcher builds a TriggerDispatcher for tr as Start does: the Trigger's delivery spec and
// its resolved dead-letter sink.
func dispatcher(t *testing.T, tr *eventingv1.Trigger, subscriber, reply string, brokers []string) *TriggerDispatcher {
	t.Helper()
	d := &TriggerDispatcher{Trigger: tr, Subscriber: subscriber, Reply: reply, Topic: testTopic, Kafka: kafka.Config{Brokers: brokers}, Quiet: true}
	if tr.Spec.Delivery != nil {
		d.Delivery = *tr.Spec.Delivery
		if dls := tr.Spec.Delivery.DeadLetterSink; dls != nil {
			u, err := resolve(*dls, nil, reply)
			if err != nil {
				t.Fatal(err)
			}
			d.DeadLetter = u
		}
	}
	return d
}

// run runs d until the returned stop is called (or the test ends).
func run(t *testing.T, d *TriggerDispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("dispatcher: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// recorder is an httptest subscriber or sink that records every CloudEvent it receives and
// answers with respond (200 and no body when nil).
type recorder struct {
	t       *testing.T
	mu      sync.Mutex
	got     []cloudevents.Event
	arrived chan cloudevents.Event
	respond func(n int, e cloudevents.Event, w http.ResponseWriter)
	srv     *httptest.Server
}

func newRecorder(t *testing.T, respond func(n int, e cloudevents.Event, w http.ResponseWriter)) *recorder {
	rec := &recorder{t: t, arrived: make(chan cloudevents.Event, 10000), respond: respond}
	rec.srv = httptest.NewServer(rec)
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) URL() string { return rec.srv.URL + "/" }

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
	if err != nil {
		rec.t.Errorf("subscriber got a request that is not a CloudEvent: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rec.mu.Lock()
	rec.got = append(rec.got, *e)
	n := len(rec.got)
	rec.mu.Unlock()
	rec.arrived <- *e
	if rec.respond != nil {
		rec.respond(n, *e, w)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (rec *recorder) events() []cloudevents.Event {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]cloudevents.Event(nil), rec.got...)
}

// next waits for the next event to arrive.
func (rec *recorder) next(t *testing.T) cloudevents.Event {
	t.Helper()
	select {
	case e := <-rec.arrived:
		return e
	case <-time.After(waitLimit):
		t.Fatalf("no event arrived within %s", waitLimit)
		return cloudevents.Event{}
	}
}

// findOnTopic consumes topic from the start until an event satisfying match appears.
func findOnTopic(t *testing.T, brokers []string, topic string, match func(cloudevents.Event) bool) cloudevents.Event {
	t.Helper()
	c := kafkaClient(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no matching event on %s within %s", topic, waitLimit)
		}
		var found *cloudevents.Event
		fs.EachRecord(func(r *kgo.Record) {
			if e, err := kafka.Event(r); err == nil && found == nil && match(e) {
				found = &e
			}
		})
		if found != nil {
			return *found
		}
	}
}

// longBackoffDelivery retries an event for as long as a test holds it back.
const longBackoffDelivery = `  delivery:
    retry: 1000
    backoffPolicy: linear
    backoffDelay: PT0.1S
`

// stuckSubscriber answers 503 (retried with back-off) to the event with subject stuck until
// release is closed, and 200 to every other.
func stuckSubscriber(t *testing.T, stuck string, release <-chan struct{}) *recorder {
	return newRecorder(t, func(_ int, e cloudevents.Event, w http.ResponseWriter) {
		if e.Subject() == stuck {
			select {
			case <-release:
			default:
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	})
}

const retryDelivery = `  delivery:
    retry: 3
    backoffPolicy: linear
    backoffDelay: PT0.01S
    deadLetterSink:
      uri: %s
`

func TestDispatcherRetries5xxAndProducesTheReply(t *testing.T) {
	t.Run("reply produced to the topic", func(t *testing.T) { testRetryAndReply(t, true) })
	t.Run("reply POSTed to the ingress", func(t *testing.T) { testRetryAndReply(t, false) })
}

func testRetryAndReply(t *testing.T, direct bool) {
	brokers := kafkaCluster(t, 12, testTopic)
	reply := ingress(t, brokers, testTopic)
	dls := newRecorder(t, nil)
	sub := newRecorder(t, func(n int, e cloudevents.Event, w http.ResponseWriter) {
		if n <= 2 {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		r := cloudevents.NewEvent()
		r.SetID("reply-" + e.ID())
		r.SetSource("/test/subscriber")
		r.SetType("test.reply")
		r.SetSubject(e.Subject())
		r.SetExtension(events.PartitionKey, e.Subject())
		_ = r.SetData(cloudevents.ApplicationJSON, map[string]string{"in_reply_to": e.ID()})
		if err := cehttp.WriteResponseWriter(context.Background(), binding.ToMessage(&r), http.StatusOK, w); err != nil {
			t.Errorf("write reply: %v", err)
		}
	})
	tr := trigger(t, "retry", "test.request", sub.URL(), fmt.Sprintf(retryDelivery, dls.URL()))
	d := dispatcher(t, tr, sub.URL(), reply, brokers)
	if direct {
		d.Producer = &Ingress{client: kafkaClient(t, brokers, kgo.RequiredAcks(kgo.AllISRAcks())), topic: testTopic}
		d.Reply = "http://127.0.0.1:1/unused" // would fail: the reply must not go there
	}
	run(t, d)

	in := testEvent(t, "test.request", "order-1", 1)
	produce(t, kafkaClient(t, brokers), testTopic, in)

	out := findOnTopic(t, brokers, testTopic, func(e cloudevents.Event) bool { return e.Type() == "test.reply" })
	if out.ID() != "reply-"+in.ID() || out.Subject() != "order-1" {
		t.Errorf("reply on the topic: id %q subject %q, want reply-%s and order-1", out.ID(), out.Subject(), in.ID())
	}
	got := sub.events()
	if len(got) != 3 {
		t.Fatalf("subscriber saw %d attempts, want 3 (500, 500, 200)", len(got))
	}
	for i, e := range got {
		if e.ID() != in.ID() {
			t.Errorf("attempt %d carried event %q, want %q", i+1, e.ID(), in.ID())
		}
	}
	if n := len(dls.events()); n != 0 {
		t.Errorf("dead-letter sink got %d events, want none", n)
	}
}

func TestDispatcherDeadLetters4xxWithoutRetry(t *testing.T) {
	brokers := kafkaCluster(t, 12, testTopic)
	reply := ingress(t, brokers, testTopic)
	dls := newRecorder(t, nil)
	sub := newRecorder(t, func(_ int, _ cloudevents.Event, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"never valid"}`)
	})
	tr := trigger(t, "bad", "test.request", sub.URL(), fmt.Sprintf(retryDelivery, dls.URL()))
	run(t, dispatcher(t, tr, sub.URL(), reply, brokers))

	in := testEvent(t, "test.request", "order-2", 1)
	produce(t, kafkaClient(t, brokers), testTopic, in)

	dead := dls.next(t)
	if dead.ID() != in.ID() || dead.Type() != "test.request" {
		t.Errorf("dead-lettered %s/%s, want the original event %s", dead.ID(), dead.Type(), in.ID())
	}
	ext := dead.Extensions()
	if code := fmt.Sprint(ext["knativeerrorcode"]); code != "400" {
		t.Errorf("knativeerrorcode = %q, want 400", code)
	}
	if dest := fmt.Sprint(ext["knativeerrordest"]); !strings.HasPrefix(dest, sub.srv.URL) {
		t.Errorf("knativeerrordest = %q, want the subscriber %s", dest, sub.srv.URL)
	}
	data, err := base64.StdEncoding.DecodeString(fmt.Sprint(ext["knativeerrordata"]))
	if err != nil || !strings.Contains(string(data), "never valid") {
		t.Errorf("knativeerrordata = %q (%v), want the subscriber's response body base64-encoded", ext["knativeerrordata"], err)
	}
	// A later event proves the dispatcher moved on; by then a retry of the first would have come.
	later := testEvent(t, "test.request", "order-2", 2)
	produce(t, kafkaClient(t, brokers), testTopic, later)
	if e := dls.next(t); e.ID() != later.ID() {
		t.Errorf("dead-letter sink got %s, want the later event %s", e.ID(), later.ID())
	}
	if n := len(sub.events()); n != 2 {
		t.Errorf("subscriber saw %d attempts for two events answered 400, want 2 (no retry)", n)
	}
}

func TestDispatcherFilterLetsOnlyTheMatchingTypeThrough(t *testing.T) {
	brokers := kafkaCluster(t, 12, testTopic)
	reply := ingress(t, brokers, testTopic)
	sub := newRecorder(t, nil)
	tr := trigger(t, "filtered", "WANTED", sub.URL(), "")
	run(t, dispatcher(t, tr, sub.URL(), reply, brokers))

	p := kafkaClient(t, brokers)
	var want []string
	for i, typ := range []string{"OTHER", "WANTED", "WANTED_NOT", "wanted", "WANTED", "OTHER"} {
		e := testEvent(t, typ, fmt.Sprintf("order-%d", i), i)
		if typ == "WANTED" {
			want = append(want, e.ID())
		}
		produce(t, p, testTopic, e)
	}
	// A final matching event on the same key as the last unwanted one: once it has arrived, every
	// earlier event of that key has been through the filter.
	last := testEvent(t, "WANTED", "order-5", 99)
	produce(t, p, testTopic, last)
	want = append(want, last.ID())
	deadline := time.After(waitLimit)
	for len(sub.events()) < len(want) {
		select {
		case <-sub.arrived:
		case <-deadline:
			t.Fatalf("%d of %d matching events arrived", len(sub.events()), len(want))
		}
	}
	seen := map[string]bool{}
	for _, e := range sub.events() {
		if e.Type() != "WANTED" {
			t.Errorf("filter let %s through", e.Type())
		}
		seen[e.ID()] = true
	}
	for _, id := range want {
		if !seen[id] {
			t.Errorf("matching event %s was not delivered", id)
		}
	}
}

// Ordered delivery is the Kafka broker's: one event at a time per partition, in offset order,
// partitions in parallel. (The Triggers of triggers/ are unordered; this is for a Trigger that
// asks for it.)
func TestOrderedDeliveryIsOneEventAtATimePerPartition(t *testing.T) {
	brokers := kafkaCluster(t, 2, testTopic)
	reply := ingress(t, brokers, testTopic)
	const perPartition = 10
	otherDone := make(chan struct{})
	var mu sync.Mutex
	inFlight, maxInFlight, otherSeen := map[string]int{}, map[string]int{}, 0
	sub := newRecorder(t, func(_ int, e cloudevents.Event, w http.ResponseWriter) {
		part := e.Subject()[:2] // "p0" or "p1"
		mu.Lock()
		inFlight[part]++
		maxInFlight[part] = max(maxInFlight[part], inFlight[part])
		mu.Unlock()
		if e.Subject() == "p0-first" {
			// Held until partition 1 is through: it only can be if partitions run in parallel.
			select {
			case <-otherDone:
			case <-time.After(waitLimit):
				t.Errorf("partition 1 was held up behind partition 0")
			}
		}
		mu.Lock()
		inFlight[part]--
		if part == "p1" {
			if otherSeen++; otherSeen == perPartition {
				close(otherDone)
			}
		}
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	tr := trigger(t, "ordered", "test.step", sub.URL(), "")
	tr.Annotations = map[string]string{deliveryOrderAnnotation: orderedDelivery}
	p := kafkaClient(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for seq := range perPartition {
		for part := range int32(2) {
			key := fmt.Sprintf("p%d-%d", part, seq%3) // several orders share a partition
			if part == 0 && seq == 0 {
				key = "p0-first"
			}
			r, err := kafka.Record(testTopic, testEvent(t, "test.step", key, seq))
			if err != nil {
				t.Fatal(err)
			}
			r.Partition = part
			if err := p.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	run(t, dispatcher(t, tr, sub.URL(), reply, brokers))

	deadline := time.After(waitLimit)
	for len(sub.events()) < 2*perPartition {
		select {
		case <-sub.arrived:
		case <-deadline:
			t.Fatalf("%d of %d events arrived", len(sub.events()), 2*perPartition)
		}
	}
	next := map[string]int{}
	for _, e := range sub.events() {
		var d struct {
			Seq int `json:"seq"`
		}
		if err := e.DataAs(&d); err != nil {
			t.Fatal(err)
		}
		part := e.Subject()[:2]
		if d.Seq != next[part] {
			t.Errorf("partition %s: event %d arrived when %d was due", part, d.Seq, next[part])
		}
		next[part] = d.Seq + 1
	}
	mu.Lock()
	defer mu.Unlock()
	if maxInFlight["p0"] != 1 || maxInFlight["p1"] != 1 {
		t.Errorf("at most %v events in flight per partition, want 1", maxInFlight)
	}
}

// committed is the group's committed offset on partition 0 of topic (-1 when none).
func committed(t *testing.T, c *kgo.Client, group, topic string) int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	rt.Partitions = []int32{0}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			if p.Partition == 0 {
				return p.Offset
			}
		}
	}
	return -1
}

func TestDispatcherCommitsOnlyDeliveredEvents(t *testing.T) {
	brokers := kafkaCluster(t, 1, testTopic)
	reply := ingress(t, brokers, testTopic)
	hold := make(chan struct{})
	var cut sync.Once
	sub := newRecorder(t, func(_ int, e cloudevents.Event, w http.ResponseWriter) {
		if e.Type() == "test.cut" {
			cut.Do(func() {
				// The first delivery of this event hangs until the dispatcher goes away.
				select {
				case <-hold:
				case <-time.After(waitLimit):
				}
			})
		}
		w.WriteHeader(http.StatusOK)
	})
	tr := trigger(t, "commits", "test.step", sub.URL(), "")
	tr.Spec.Filters = nil // every type
	p := kafkaClient(t, brokers)
	a, b := testEvent(t, "test.step", "order-a", 1), testEvent(t, "test.step", "order-b", 1)
	produce(t, p, testTopic, a, b)

	stop := run(t, dispatcher(t, tr, sub.URL(), reply, brokers))
	sub.next(t)
	sub.next(t)
	group := "knative-trigger-ordersaga-commits"
	admin := kafkaClient(t, brokers)
	for deadline := time.Now().Add(waitLimit); committed(t, admin, group, testTopic) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the two delivered events were not committed within %s", waitLimit)
		}
	}
	x := testEvent(t, "test.cut", "order-x", 1)
	produce(t, p, testTopic, x)
	if e := sub.next(t); e.ID() != x.ID() {
		t.Fatalf("got %s, want the cut-off event %s", e.ID(), x.ID())
	}
	stop() // the dispatcher goes away while x is being delivered
	close(hold)
	if off := committed(t, admin, group, testTopic); off != 2 {
		t.Errorf("committed offset %d after an interrupted delivery, want 2", off)
	}

	run(t, dispatcher(t, tr, sub.URL(), reply, brokers))
	if e := sub.next(t); e.ID() != x.ID() {
		t.Errorf("after the restart the first delivery was %s (%s), want the cut-off event %s again", e.ID(), e.Subject(), x.ID())
	}
	for deadline := time.Now().Add(waitLimit); committed(t, admin, group, testTopic) < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the redelivered event was not committed within %s", waitLimit)
		}
	}
	ids := map[string]int{}
	for _, e := range sub.events() {
		ids[e.ID()]++
	}
	if ids[a.ID()] != 1 || ids[b.ID()] != 1 || ids[x.ID()] != 2 {
		t.Errorf("deliveries per event: a %d, b %d, x %d; want 1, 1, 2", ids[a.ID()], ids[b.ID()], ids[x.ID()])
	}
}

// manifestRoot copies the repository's config/ and triggers/ into a temporary root, applies
// edit (file name → new content, "" to delete) and returns the root.
func manifestRoot(t *testing.T, edit map[string]string) string {
	t.Helper()
	src := moduleRoot(t)
	root := t.TempDir()
	for _, dir := range []string{"config", "triggers"} {
		err := filepath.WalkDir(filepath.Join(src, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, path)
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(root, filepath.Dir(rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(root, rel), data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for rel, content := range edit {
		path := filepath.Join(root, rel)
		if content == "" {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// moduleRoot walks up from the working directory to go.mod.
func moduleRoot(t testing.TB) string {
	t.Helper()
	root, err := manifests.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestInvalidManifestsStopTheStack(t *testing.T) {
	const head = `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: broken
  namespace: ordersaga
spec:
  broker: default
`
	const sub = `  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: order
`
	const source = `apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata:
  name: orders-events
  namespace: ordersaga
spec:
  consumerGroup: ordersaga-orders-events
`
	for _, tc := range []struct {
		name string
		edit map[string]string
		want []string
	}{
		{"filter with an invalid CESQL expression", map[string]string{"triggers/broken.yaml": head + `  filters:
    - cesql: "type = "
` + sub}, []string{"broken", "spec.filters[0].cesql"}},
		{"filter with two dialects", map[string]string{"triggers/broken.yaml": head + `  filters:
    - exact: {type: ORDER_REQUESTED}
      prefix: {type: ORDER_}
` + sub}, []string{"broken", "multiple dialects found, filters can have only one dialect set"}},
		{"trigger without subscriber", map[string]string{"triggers/broken.yaml": head + `  filters:
    - exact: {type: ORDER_REQUESTED}
`}, []string{"broken", "expected at least one, got none", "spec.subscriber"}},
		{"kafka source without servers, topics or sink", map[string]string{"config/30-kafka-source.yaml": source},
			[]string{"KafkaSource", "spec.bootstrapServers", "spec.topics", "spec.sink"}},
		{"a receiver without an EventPolicy", map[string]string{"triggers/shipping.yaml": head + `  filters:
    - exact: {type: ORDER_ACCEPTED}
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: shipping
`}, []string{"shipping", "no EventPolicy names its senders"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := manifestRoot(t, tc.edit)
			_, err := loadManifests(context.Background(), root)
			if err == nil { // valid manifests; what the stack makes of them is wrong
				var set *manifests.Set
				if set, err = loadManifests(context.Background(), root); err == nil {
					broker, _, _ := routing(set)
					_, err = senderPolicies(set, broker)
				}
			}
			if err == nil {
				t.Fatal("loadManifests accepted the manifests")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			// Start stops on the same error before it starts anything.
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			s, err := Start(ctx, Config{Root: root, DataDir: t.TempDir(), KafkaPort: 1, GatewayAddr: "127.0.0.1:0"})
			if err == nil {
				s.Stop()
				t.Fatal("Start accepted the manifests")
			}
			if !strings.Contains(err.Error(), tc.want[len(tc.want)-1]) {
				t.Errorf("Start's error does not mention %q:\n%v", tc.want[len(tc.want)-1], err)
			}
		})
	}
}

func TestRepositoryManifestsLoad(t *testing.T) {
	set, err := loadManifests(context.Background(), moduleRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := routing(set); err != nil {
		t.Fatal(err)
	}
}

func TestDispatcherKeepsAnEventUntilTheDeadLetterSinkTakesIt(t *testing.T) {
	brokers := kafkaCluster(t, 12, testTopic)
	reply := ingress(t, brokers, testTopic)
	// The sink is down for longer than one delivery's retries (1 + 3 attempts), then recovers.
	const outage = 6
	dls := newRecorder(t, func(n int, _ cloudevents.Event, w http.ResponseWriter) {
		if n <= outage {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	sub := newRecorder(t, func(_ int, _ cloudevents.Event, w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest) })
	tr := trigger(t, "sinkdown", "test.request", sub.URL(), fmt.Sprintf(retryDelivery, dls.URL()))
	run(t, dispatcher(t, tr, sub.URL(), reply, brokers))

	in := testEvent(t, "test.request", "order-3", 1)
	produce(t, kafkaClient(t, brokers), testTopic, in)
	for i := 0; i <= outage; i++ { // every attempt is the same event, up to the one accepted
		if e := dls.next(t); e.ID() != in.ID() {
			t.Fatalf("dead-letter attempt %d carried %s, want %s", i+1, e.ID(), in.ID())
		}
	}
}

func TestDispatcherMovesOnWhenTheDeadLetterSinkRefusesAnEvent(t *testing.T) {
	brokers := kafkaCluster(t, 12, testTopic)
	reply := ingress(t, brokers, testTopic)
	dls := newRecorder(t, func(_ int, _ cloudevents.Event, w http.ResponseWriter) {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	})
	sub := newRecorder(t, func(_ int, e cloudevents.Event, w http.ResponseWriter) {
		if e.Subject() == "too-big" {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	tr := trigger(t, "refused", "test.request", sub.URL(), fmt.Sprintf(retryDelivery, dls.URL()))
	run(t, dispatcher(t, tr, sub.URL(), reply, brokers))
	p := kafkaClient(t, brokers)
	produce(t, p, testTopic, testEvent(t, "test.request", "too-big", 0))
	dls.next(t) // the sink refused it: it can never take it, so it is dropped, not retried forever
	produce(t, p, testTopic, testEvent(t, "test.request", "next-order", 0))
	for {
		if e := sub.next(t); e.Subject() == "next-order" {
			return
		}
	}
}

// The ingress refuses what no function could take (413), so that an accepted event is never one
// that every subscriber and the dead-letter sink would refuse; a valid event still goes through.
func TestIngressRefusesEventsNoSubscriberCouldTake(t *testing.T) {
	brokers := kafkaCluster(t, 12, testTopic)
	url := ingress(t, brokers, testTopic)
	post := func(e cloudevents.Event) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&e), req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	big := testEvent(t, "test.request", "too-big", 0)
	if err := big.SetData(cloudevents.ApplicationJSON, map[string]string{"pad": strings.Repeat("x", 200<<10)}); err != nil {
		t.Fatal(err)
	}
	if got := post(big); got != http.StatusRequestEntityTooLarge {
		t.Errorf("a 200 KB event: status %d, want 413", got)
	}
	justOver := testEvent(t, "test.request", "just-over", 0)
	if err := justOver.SetData(cloudevents.ApplicationJSON, map[string]string{"pad": strings.Repeat("x", events.MaxDataBytes)}); err != nil {
		t.Fatal(err)
	}
	if got := post(justOver); got != http.StatusRequestEntityTooLarge {
		t.Errorf("data just over events.MaxDataBytes: status %d, want 413", got)
	}
	ok := testEvent(t, "test.request", "fine", 0)
	if got := post(ok); got != http.StatusAccepted {
		t.Fatalf("a small event: status %d, want 202", got)
	}
	// The small one is on the topic, and it is the first record there: nothing refused was stored.
	first := findOnTopic(t, brokers, testTopic, func(cloudevents.Event) bool { return true })
	if first.ID() != ok.ID() {
		t.Errorf("first event on the topic is %s (%s), want the accepted %s", first.ID(), first.Subject(), ok.ID())
	}
}

// In unordered delivery (the Triggers of triggers/) an event waiting out its back-off holds up
// nothing: later events, here on the same partition, are delivered meanwhile, and the committed
// offset stays below the waiting event until it is delivered. (In ordered delivery they wait:
// TestOrderedDeliveryIsOneEventAtATimePerPartition.)
func TestDispatcherDeliversOtherOrdersWhileOneWaitsOutItsBackoff(t *testing.T) {
	brokers := kafkaCluster(t, 1, testTopic)
	reply := ingress(t, brokers, testTopic)
	release := make(chan struct{})
	sub := stuckSubscriber(t, "stuck", release)
	tr := trigger(t, "backoff", "test.step", sub.URL(), longBackoffDelivery)
	tr.Annotations = map[string]string{deliveryOrderAnnotation: unorderedDelivery}
	p := kafkaClient(t, brokers)
	produce(t, p, testTopic, testEvent(t, "test.step", "stuck", 0))
	run(t, dispatcher(t, tr, sub.URL(), reply, brokers))
	if e := sub.next(t); e.Subject() != "stuck" {
		t.Fatalf("first delivery was %s", e.Subject())
	}
	// Produced while the stuck one waits out its back-off: a later fetch than its own.
	var others []cloudevents.Event
	for i := range 5 {
		others = append(others, testEvent(t, "test.step", fmt.Sprintf("other-%d", i), 0))
	}
	produce(t, p, testTopic, others...)

	delivered := map[string]bool{}
	deadline := time.After(waitLimit)
	for len(delivered) < len(others) {
		select {
		case e := <-sub.arrived:
			if e.Subject() != "stuck" {
				delivered[e.Subject()] = true
			}
		case <-deadline:
			t.Fatalf("only %d of %d other orders were delivered while one waited out its back-off", len(delivered), len(others))
		}
	}
	group := "knative-trigger-ordersaga-" + tr.Name
	admin := kafkaClient(t, brokers)
	time.Sleep(time.Second) // let a wrong commit, if any, happen (autocommit runs every 0.5 s)
	if off := committed(t, admin, group, testTopic); off > 0 {
		t.Errorf("committed offset %d while the event at offset 0 is still being retried", off)
	}
	close(release)
	for deadline := time.Now().Add(waitLimit); committed(t, admin, group, testTopic) < 6; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("offsets not committed after the stuck event was delivered: %d", committed(t, admin, group, testTopic))
		}
	}
}

// Ordered, a partition whose first event waits out its back-off keeps only a few of the events
// behind it taken: the rest wait in the feed, so the Trigger's slots stay free for its other
// partitions, which go on being delivered (as on a cluster, where each partition is its own).
func TestOrderedDeliveryOfOnePartitionInBackoffHoldsUpNoOther(t *testing.T) {
	brokers := kafkaCluster(t, 2, testTopic)
	reply := ingress(t, brokers, testTopic)
	release := make(chan struct{})
	sub := stuckSubscriber(t, "p0-stuck", release)
	tr := trigger(t, "ordered-backoff", "test.step", sub.URL(), longBackoffDelivery)
	tr.Annotations = map[string]string{deliveryOrderAnnotation: orderedDelivery}
	d := dispatcher(t, tr, sub.URL(), reply, brokers)
	d.MaxInFlight = 2 * perPartitionWaiting // fewer slots than partition 0 has events
	p := kafkaClient(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var records []*kgo.Record
	for seq := range 3 * perPartitionWaiting {
		key := fmt.Sprintf("p0-%d", seq)
		if seq == 0 {
			key = "p0-stuck"
		}
		r, err := kafka.Record(testTopic, testEvent(t, "test.step", key, seq))
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, r)
	}
	if err := p.ProduceSync(context.Background(), records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	run(t, d)
	if e := sub.next(t); e.Subject() != "p0-stuck" {
		t.Fatalf("first delivery was %s", e.Subject())
	}
	const others = 5
	for seq := range others {
		r, err := kafka.Record(testTopic, testEvent(t, "test.step", fmt.Sprintf("p1-%d", seq), seq))
		if err != nil {
			t.Fatal(err)
		}
		r.Partition = 1
		if err := p.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	delivered := map[string]bool{}
	deadline := time.After(waitLimit)
	for len(delivered) < others {
		select {
		case e := <-sub.arrived:
			if strings.HasPrefix(e.Subject(), "p1-") {
				delivered[e.Subject()] = true
			}
		case <-deadline:
			t.Fatalf("only %d of %d events of partition 1 were delivered while partition 0 waited out its back-off", len(delivered), others)
		}
	}
	close(release)
}
