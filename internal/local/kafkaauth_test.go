package local

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/kafka"
	"github.com/ordersaga/ordersaga/internal/manifests"
)

const authSourceTopic = "orders.events"

// embeddedKafka starts the stack's embedded broker alone, on dataDir, as Start does.
func embeddedKafka(t *testing.T, dataDir string) *Stack {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	source := &manifests.KafkaSource{Namespace: "ordersaga", Name: "orders-events", Spec: manifests.KafkaSourceSpec{
		Topics: []string{authSourceTopic}, ConsumerGroup: "ordersaga-orders-events"}}
	broker := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Namespace: "ordersaga", Name: "default"}}
	s := &Stack{Topic: brokerTopic("ordersaga", "default"), cancel: func() {}}
	if err := s.startKafka(context.Background(), Config{DataDir: dataDir, KafkaPort: port}, source, broker); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// attempt runs op with a client of cfg and returns its error; a client the broker refuses to
// authenticate would retry until ctx ends, so the attempt is bounded (the bound is not asserted).
func attempt(t *testing.T, cfg kafka.Config, op func(context.Context, *kgo.Client) error, opts ...kgo.Opt) error {
	t.Helper()
	c, err := cfg.NewClient(append([]kgo.Opt{kgo.ProducerLinger(0), kgo.RecordRetries(2), kgo.RequestRetries(2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return op(ctx, c)
}

func produceTo(topic string) func(context.Context, *kgo.Client) error {
	return func(ctx context.Context, c *kgo.Client) error {
		return c.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("{}")}).FirstErr()
	}
}

// fetchFrom reads one record of topic's partition 0 from the start (there is one: the test
// writes it as the CLI principal first).
func fetchFrom(ctx context.Context, c *kgo.Client) error {
	for {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, fe := range fs.Errors() {
			return fe.Err
		}
		if fs.NumRecords() > 0 {
			return nil
		}
	}
}

func consume(topic string) kgo.Opt {
	return kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}})
}

// authFailed reports whether err is a refusal to authenticate (or to talk to an anonymous
// client at all: the broker closes the connection, which ends in ctx's deadline).
func authFailed(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, context.DeadlineExceeded)
}

// denied reports whether err is a refusal by ACL: of the topic, or (for a principal allowed to
// write no topic at all) of the idempotent producer id it asks for first.
func denied(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}

func TestEmbeddedKafkaRequiresCredentialsAndEnforcesACLs(t *testing.T) {
	dataDir := t.TempDir()
	s := embeddedKafka(t, dataDir)
	as := s.kafkaAs

	info, err := os.Stat(filepath.Join(dataDir, kafka.CredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode = %v, want 0600", info.Mode().Perm())
	}

	// The allowed paths, each with one record on partition 0 for the reads below.
	p0 := kgo.ManualPartitioner()
	for _, w := range []struct{ who, topic string }{
		{principalOrder, authSourceTopic}, {principalBroker, s.Topic}, {principalCLI, authSourceTopic}, {principalCLI, s.Topic},
	} {
		err := attempt(t, as(w.who), func(ctx context.Context, c *kgo.Client) error {
			return c.ProduceSync(ctx, &kgo.Record{Topic: w.topic, Partition: 0, Value: []byte("{}")}).FirstErr()
		}, kgo.RecordPartitioner(p0))
		if err != nil {
			t.Errorf("%s writing %s: %v", w.who, w.topic, err)
		}
	}
	for _, r := range []struct{ who, topic string }{
		{principalSource, authSourceTopic}, {principalBroker, s.Topic}, {principalCLI, s.Topic}, {principalCLI, authSourceTopic},
		{principalConsole, s.Topic},
	} {
		if err := attempt(t, as(r.who), fetchFrom, consume(r.topic)); err != nil {
			t.Errorf("%s reading %s: %v", r.who, r.topic, err)
		}
	}

	anonymous := kafka.Config{Brokers: s.KafkaBrokers}
	wrong := as(principalOrder)
	wrong.Password = "not-" + wrong.Password
	unknown := kafka.Config{Brokers: s.KafkaBrokers, Mechanism: kafka.ScramSHA512, Username: "mallory", Password: "x"}
	for name, cfg := range map[string]kafka.Config{"anonymous": anonymous, "wrong password": wrong, "unknown user": unknown} {
		for _, topic := range []string{authSourceTopic, s.Topic} {
			if err := attempt(t, cfg, produceTo(topic)); !authFailed(err) {
				t.Errorf("%s writing %s: err = %v, want an authentication failure", name, topic, err)
			}
			if err := attempt(t, cfg, fetchFrom, consume(topic)); !authFailed(err) {
				t.Errorf("%s reading %s: err = %v, want an authentication failure", name, topic, err)
			}
		}
	}

	// Authenticated, but not allowed.
	for _, d := range []struct{ who, topic string }{
		{principalBroker, authSourceTopic}, // the data plane cannot forge a new order
		{principalSource, authSourceTopic}, // the source only reads
		{principalOrder, s.Topic},          // the order function cannot skip the saga's steps
		{principalSource, s.Topic},         // the source goes through the broker's ingress
		{principalConsole, s.Topic},        // the console only watches
		{principalConsole, authSourceTopic},
	} {
		if err := attempt(t, as(d.who), produceTo(d.topic)); !denied(err) {
			t.Errorf("%s writing %s: err = %v, want an authorization failure", d.who, d.topic, err)
		}
	}
	for _, d := range []struct{ who, topic string }{
		{principalOrder, authSourceTopic}, // writes only
		{principalOrder, s.Topic},
		{principalSource, s.Topic},
		{principalConsole, authSourceTopic}, // the console reads the broker's topic only
	} {
		if err := attempt(t, as(d.who), fetchFrom, consume(d.topic)); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("%s reading %s: err = %v, want TOPIC_AUTHORIZATION_FAILED", d.who, d.topic, err)
		}
	}
	// Consumer groups: the source's is the source's, the Triggers' the broker's.
	for _, d := range []struct{ who, group, topic string }{
		{principalBroker, "ordersaga-orders-events", authSourceTopic},
		{principalSource, triggerGroup("ordersaga", "order-requested"), s.Topic},
		{principalCLI, triggerGroup("ordersaga", "order-requested"), s.Topic},
		{principalConsole, triggerGroup("ordersaga", "order-requested"), s.Topic},
	} {
		err := attempt(t, as(d.who), fetchFrom, kgo.ConsumerGroup(d.group), kgo.ConsumeTopics(d.topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err == nil {
			t.Errorf("%s joined group %s", d.who, d.group)
		}
	}
}

// A forged ORDER_REQUESTED (kcat with no credentials, or with the data plane's) never reaches the
// topic the KafkaSource reads, so no reservation can come of it.
func TestForgedOrderRequestedNeverReachesTheTopic(t *testing.T) {
	s := embeddedKafka(t, t.TempDir())
	e, err := events.New("/forged", events.OrderRequestedV1{
		OrderID: uuid.NewString(), UserID: uuid.NewString(), Items: []events.Line{{SKU: "BOOK-1", Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := kafka.Record(authSourceTopic, e)
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []kafka.Config{{Brokers: s.KafkaBrokers}, s.kafkaAs(principalBroker), s.kafkaAs(principalSource)} {
		err := attempt(t, cfg, func(ctx context.Context, c *kgo.Client) error {
			r := *rec
			return c.ProduceSync(ctx, &r).FirstErr()
		})
		if err == nil {
			t.Errorf("%s produced a forged ORDER_REQUESTED", cfg)
		}
	}
	// Nothing landed: every partition of the source topic is still empty.
	err = attempt(t, s.kafkaAs(principalCLI), func(ctx context.Context, c *kgo.Client) error {
		req := listEnds(authSourceTopic)
		resp, err := req.RequestWith(ctx, c)
		if err != nil {
			return err
		}
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return err
				}
				if p.Offset != 0 {
					t.Errorf("%s[%d] ends at %d: a forged record landed", rt.Topic, p.Partition, p.Offset)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The broker's data folder keeps its users and ACLs; a restart provisions them again, and a
// folder written before authentication (no users at all) is taken over rather than locked.
func TestEmbeddedKafkaRestartsOnItsDataFolder(t *testing.T) {
	for name, prepare := range map[string]func(t *testing.T, dataDir string){
		"restart": func(t *testing.T, dataDir string) { embeddedKafka(t, dataDir).Stop() },
		"folder from before authentication": func(t *testing.T, dataDir string) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(topicPartitions, authSourceTopic),
				kfake.DataDir(filepath.Join(dataDir, "kafka")))
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		},
	} {
		t.Run(name, func(t *testing.T) {
			dataDir := t.TempDir()
			prepare(t, dataDir)
			s := embeddedKafka(t, dataDir)
			if err := attempt(t, s.kafkaAs(principalOrder), produceTo(authSourceTopic)); err != nil {
				t.Errorf("order writing %s after a restart: %v", authSourceTopic, err)
			}
			if err := attempt(t, s.kafkaAs(principalOrder), produceTo(s.Topic)); !errors.Is(err, kerr.TopicAuthorizationFailed) {
				t.Errorf("order writing %s after a restart: err = %v, want TOPIC_AUTHORIZATION_FAILED", s.Topic, err)
			}
			if err := attempt(t, kafka.Config{Brokers: s.KafkaBrokers}, produceTo(authSourceTopic)); !authFailed(err) {
				t.Errorf("anonymous write after a restart: err = %v", err)
			}
		})
	}
}

// A data folder whose broker keeps another admin than the credentials file's (the file was
// deleted) is refused with what to do, not half started.
func TestEmbeddedKafkaWithLostCredentialsSaysWhatToDo(t *testing.T) {
	dataDir := t.TempDir()
	embeddedKafka(t, dataDir).Stop()
	if err := os.Remove(filepath.Join(dataDir, kafka.CredentialsFile)); err != nil {
		t.Fatal(err)
	}
	source := &manifests.KafkaSource{Spec: manifests.KafkaSourceSpec{Topics: []string{authSourceTopic}, ConsumerGroup: "g"}}
	broker := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Namespace: "ordersaga", Name: "default"}}
	s := &Stack{Topic: brokerTopic("ordersaga", "default"), cancel: func() {}}
	defer s.Stop()
	err := s.startKafka(context.Background(), Config{DataDir: dataDir, KafkaPort: 0}, source, broker)
	if err == nil || !strings.Contains(err.Error(), "remove the kafka folder") {
		t.Fatalf("err = %v, want advice to remove the kafka folder", err)
	}
}

// listEnds asks where each of topic's partitions ends.
func listEnds(topic string) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	for p := range int32(topicPartitions) {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1 // latest
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	return req
}
