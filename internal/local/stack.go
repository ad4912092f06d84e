// Package local runs the whole system on one machine with no Kubernetes and no Docker: the
// functions as separate processes, PostgreSQL, Kafka (embedded unless given), and the Knative
// eventing data plane emulated from the very YAML a cluster applies (config/ and triggers/):
// the KafkaSource, the Broker's ingress and one dispatcher per Trigger, using Knative's own
// types, validation, filters and retry policy. A gateway fronts every REST path.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/ordersaga/ordersaga/internal/eventauth"
	"github.com/ordersaga/ordersaga/internal/gateway"
	"github.com/ordersaga/ordersaga/internal/httpapi"
	"github.com/ordersaga/ordersaga/internal/kafka"
	"github.com/ordersaga/ordersaga/internal/manifests"
)

// Config is the local stack's configuration (environment names in the envconfig tags).
type Config struct {
	// Root is the repository: config/ and triggers/ are read from it, cmd/ built from it.
	Root    string `envconfig:"ORDERSAGA_ROOT" default:"."`
	DataDir string `envconfig:"ORDERSAGA_DATA" default:".data"`
	// DatabaseURL is an administrator URL; when unset or unreachable a private PostgreSQL starts.
	DatabaseURL string `envconfig:"DATABASE_URL"`
	// Kafka is an external Kafka (KAFKA_BROKERS, KAFKA_SASL_*, KAFKA_TLS*), used by every client
	// of the stack as it is; when it names no broker an embedded one starts on KafkaPort (0: any
	// free port), requiring SCRAM credentials of its own (kafkaauth.go).
	Kafka       kafka.Config `envconfig:"KAFKA"`
	KafkaPort   int          `envconfig:"ORDERSAGA_KAFKA_PORT" default:"19092"`
	GatewayAddr string       `envconfig:"ORDERSAGA_GATEWAY_ADDR" default:"127.0.0.1:8080"`
	// MetricsAddr serves every function's Prometheus metrics and the data plane's in one place
	// (metrics.go); empty or "off" serves none.
	MetricsAddr string `envconfig:"ORDERSAGA_METRICS_ADDR" default:"127.0.0.1:9464"`
	// AdminEmail and AdminPassword are the local admin's; a password is generated when unset.
	AdminEmail         string `envconfig:"ORDERSAGA_ADMIN_EMAIL" default:"admin@example.com"`
	AdminPassword      string `envconfig:"ORDERSAGA_ADMIN_PASSWORD"`
	PaymentSuccessRate string `envconfig:"PAYMENT_SUCCESS_RATE" default:"0.9"`
	// Quiet drops the per-hop log lines (benchmarks).
	Quiet bool `envconfig:"ORDERSAGA_QUIET"`
	// Scaling "on" runs each function as Knative Serving would (scaling.go): from zero up to
	// max-scale instances behind an activator, by Knative's autoscaler. Anything else (the
	// zero value, "off") runs exactly one instance of each, always up. `make run` turns it on.
	Scaling string `envconfig:"ORDERSAGA_SCALING" default:"on"`
	// Scale shortens the autoscaler's windows (ORDERSAGA_SCALE_WINDOW, _TO_ZERO_GRACE, _TARGET).
	Scale ScalingConfig `envconfig:"ORDERSAGA_SCALE"`
	// Delivery, when set, adjusts every Trigger's delivery spec after it is read from triggers/:
	// tests shorten the retry budget with it, to outlast it in seconds rather than minutes.
	Delivery func(*eventingduckv1.DeliverySpec) `ignored:"true"`
}

// schemas is each function's own PostgreSQL schema; functions not listed need no database.
var schemas = map[string]string{
	"order": "orders", "inventory": "inventory", "payment": "payment", "shipping": "shipping", "user": "users",
	"deadletter": "deadletter",
}

// Stack is a running local system.
type Stack struct {
	// GatewayURL fronts every REST path; KafkaBrokers is where the events topic lives.
	GatewayURL string
	// MetricsURL serves GET /metrics for the whole stack ("" when Config.MetricsAddr is off).
	MetricsURL   string
	KafkaBrokers []string
	// Kafka is how ordersctl and the tools reach the topics: the embedded broker's ordersctl
	// principal (its password is in the data folder's kafka-credentials.json), or the external
	// Kafka's configuration.
	Kafka         kafka.Config
	AdminEmail    string
	AdminPassword string
	// Ingress is the broker's ingress URL (K_SINK); Topic the broker's topic.
	Ingress string
	Topic   string

	// kafkaAs is how each principal of the embedded broker reaches it (with an external Kafka,
	// everyone is the configured one).
	kafkaAs func(principal string) kafka.Config

	procs         map[string]*process        // with scaling off: one process per function
	scaled        map[string]*scaledFunction // with scaling on
	triggerGroups []triggerGroupName         // for the Triggers' lag
	lags          lagCache
	issuer        *eventauth.Issuer // the stack's sender-token issuer
	cancel        context.CancelFunc
	wg            sync.WaitGroup
	cleanup       []func()
	errc          chan error
	dataDir       string
}

// Start brings the whole system up and returns once every function is ready. Stop (or the
// end of ctx) takes it down.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	ctx, cancel := context.WithCancel(ctx)
	// Not a named result: every `return nil, err` below would set it to nil before the deferred
	// Stop runs, which then panicked instead of cleaning up.
	s := &Stack{procs: map[string]*process{}, scaled: map[string]*scaledFunction{}, cancel: cancel, errc: make(chan error, 1), dataDir: cfg.DataDir}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if cfg.Scaling != "" && cfg.Scaling != "on" && cfg.Scaling != "off" {
		return nil, fmt.Errorf("ORDERSAGA_SCALING is on or off, not %q", cfg.Scaling)
	}
	if err := cfg.Scale.validate(); err != nil {
		return nil, err
	}
	// The public addresses are taken first: a busy port is reported before anything is built, and
	// no function process can be handed the port while the stack starts.
	gatewayListener, gatewayURL, err := listen(cfg.GatewayAddr)
	if err != nil {
		return nil, fmt.Errorf("gateway on %s: %w (set ORDERSAGA_GATEWAY_ADDR to use another address)", cfg.GatewayAddr, err)
	}
	s.cleanup = append(s.cleanup, func() { _ = gatewayListener.Close() })
	var metricsListener net.Listener
	var metricsURL string
	if cfg.MetricsAddr != "" && cfg.MetricsAddr != "off" {
		if metricsListener, metricsURL, err = listen(cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("metrics on %s: %w (set ORDERSAGA_METRICS_ADDR to use another address, or off)", cfg.MetricsAddr, err)
		}
		s.cleanup = append(s.cleanup, func() { _ = metricsListener.Close() })
	}
	set, err := loadManifests(ctx, cfg.Root)
	if err != nil {
		return nil, err
	}
	broker, source, err := routing(set)
	if err != nil {
		return nil, err
	}
	policies, err := senderPolicies(set, broker)
	if err != nil {
		return nil, err
	}
	if err := prepareDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	bins, err := buildFunctions(ctx, cfg, set)
	if err != nil {
		return nil, err
	}
	db, err := startDatabase(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s.cleanup = append(s.cleanup, db.stop)
	dbURLs, err := functionURLs(ctx, db.adminURL, cfg.DataDir, schemas)
	if err != nil {
		return nil, fmt.Errorf("database roles: %w", err)
	}
	s.Topic = brokerTopic(broker.Namespace, broker.Name)
	if err := s.startKafka(ctx, cfg, source, broker); err != nil {
		return nil, err
	}

	// The stack's token issuer.
	issuer, err := s.startIssuer(ctx)
	if err != nil {
		return nil, err
	}
	s.issuer = issuer
	// The ingress checks senders with the functions' own code path: discovery, JWKS, Verify.
	ingressAuth, err := eventauth.Config{Issuer: issuer.URL(), Audience: policies.brokerAudience, Senders: policies.brokerSenders}.Verifier()
	if err != nil {
		return nil, err
	}

	// The broker's ingress, what K_SINK points at.
	producer, err := s.kafkaAs(principalBroker).NewClient(kgo.ProducerLinger(0),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.AllowAutoTopicCreation())
	if err != nil {
		return nil, err
	}
	s.cleanup = append(s.cleanup, producer.Close)
	ingress := &Ingress{client: producer, topic: s.Topic, auth: ingressAuth}
	if s.Ingress, err = s.serve(ctx, "127.0.0.1:0", ingress); err != nil {
		return nil, err
	}

	// The functions, each its own process on its own port.
	if cfg.AdminPassword == "" {
		if cfg.AdminPassword, err = generatedPassword(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	s.AdminEmail, s.AdminPassword = cfg.AdminEmail, cfg.AdminPassword
	urls := map[string]string{}
	scaling := cfg.Scaling == "on"
	if scaling {
		if err := s.addScaledFunctions(ctx, cfg, set, bins, urls); err != nil {
			return nil, err
		}
	}
	for name, bin := range bins {
		if scaling {
			break
		}
		p, err := newProcess(name, bin)
		if err != nil {
			return nil, err
		}
		s.cleanup = append(s.cleanup, p.close)
		s.procs[name], urls[name] = p, p.url()
	}
	authEnv, err := s.eventAuthEnv(ctx, cfg, set, broker, policies, issuer, urls)
	if err != nil {
		return nil, err
	}
	for name, p := range s.procs {
		p.env = append(functionEnv(name, cfg, dbURLs[name], urls, s), authEnv[name]...)
		s.wg.Add(1)
		go p.supervise(ctx, &s.wg)
	}
	for name, f := range s.scaled {
		f.env = append(functionEnv(name, cfg, instancePool(dbURLs[name]), urls, s), authEnv[name]...)
		s.run(ctx, "autoscaler "+name, f.run)
	}
	ready, cancelReady := context.WithTimeout(ctx, 60*time.Second)
	defer cancelReady()
	for _, p := range s.procs {
		if err := p.waitReady(ready); err != nil {
			return nil, err
		}
	}
	for _, f := range s.scaled {
		if err := f.waitReady(ready); err != nil {
			return nil, err
		}
	}

	// The eventing data plane: KafkaSource → broker topic → one dispatcher per Trigger.
	src := &kafkaSource{spec: source, kafka: s.kafkaAs(principalSource), ingress: ingress}
	s.run(ctx, "kafka source", src.Run)
	// The Triggers share one fetch of the broker topic, each with its own consumer group's offsets.
	reader := newTopicReader(s.kafkaAs(principalBroker), s.Topic)
	for _, t := range set.Triggers {
		subscriber, err := resolve(t.Spec.Subscriber, urls, s.Ingress)
		if err != nil {
			return nil, fmt.Errorf("trigger %s: %w", t.Name, err)
		}
		delivery := broker.Spec.Delivery
		if t.Spec.Delivery != nil {
			delivery = t.Spec.Delivery
		}
		d := &TriggerDispatcher{Trigger: t, Subscriber: subscriber, Reply: s.Ingress, Producer: ingress, Topic: s.Topic,
			Kafka: s.kafkaAs(principalBroker), Quiet: cfg.Quiet,
			// The Trigger's own identity, as Knative gives each Trigger its OIDC service account.
			Tokens:             eventauth.NewMinter(issuer, manifests.OIDCIdentity(gvkTrigger, t.Namespace, t.Name), senderTokenTTL),
			SubscriberAudience: destinationAudience(t.Spec.Subscriber, broker),
			ReplyAudience:      policies.brokerAudience,
		}
		if cfg.Delivery != nil && delivery != nil {
			delivery = delivery.DeepCopy()
			cfg.Delivery(delivery)
		}
		if delivery != nil {
			d.Delivery = *delivery
			if delivery.DeadLetterSink != nil {
				if d.DeadLetter, err = resolve(*delivery.DeadLetterSink, urls, s.Ingress); err != nil {
					return nil, fmt.Errorf("trigger %s dead-letter sink: %w", t.Name, err)
				}
				d.DeadLetterAudience = destinationAudience(*delivery.DeadLetterSink, broker)
			}
		}
		d.readFrom(reader)
		s.run(ctx, "trigger "+t.Name, d.Run)
		s.triggerGroups = append(s.triggerGroups, triggerGroupName{trigger: t.Name, subscriber: subscriberName(t), group: triggerGroup(t.Namespace, t.Name)})
	}
	s.run(ctx, "broker reader", reader.Run)

	// The PingSources: periodic events straight to their Services (through the activators).
	for _, ps := range set.PingSources {
		sink, err := resolve(ps.Spec.Sink, urls, s.Ingress)
		if err != nil {
			return nil, fmt.Errorf("pingsource %s: %w", ps.Name, err)
		}
		p := &pingSource{source: ps, sink: sink, audience: destinationAudience(ps.Spec.Sink, broker),
			tokens: eventauth.NewMinter(issuer, manifests.OIDCIdentity(gvkPingSource, ps.Namespace, ps.Name), senderTokenTTL)}
		s.run(ctx, "pingsource "+ps.Name, p.Run)
	}

	// The console reads the broker topic as its own read-only principal.
	gw, err := gateway.Handler(urls, gateway.EventSource{Kafka: s.kafkaAs(principalConsole), Topic: s.Topic})
	if err != nil {
		return nil, err
	}
	s.GatewayURL = gatewayURL
	// The Host check (DNS rebinding) covers the stack's own paths beside the gateway's too.
	s.serveOn(ctx, gatewayListener, gateway.LocalHostsOnly(s.withScaleStatus(gw), cfg.GatewayAddr))
	if metricsListener != nil {
		s.MetricsURL = metricsURL
		s.serveOn(ctx, metricsListener, metricsHandler(s.scrapeTargets))
	}
	return s, nil
}

// Kill kills one function's process, as a crashing pod; it is restarted.
func (s *Stack) Kill(name string) error {
	return s.Signal(name, os.Kill)
}

// Signal sends sig to one function's process: SIGSTOP and SIGCONT hang and resume it, as a
// stalled node would.
func (s *Stack) Signal(name string, sig os.Signal) error {
	if f, ok := s.scaled[name]; ok {
		return f.signal(sig)
	}
	p, ok := s.procs[name]
	if !ok {
		return fmt.Errorf("no function %q", name)
	}
	return p.Signal(sig)
}

// Wait blocks until the stack stops or one of its parts fails.
func (s *Stack) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.errc:
		return err
	}
}

// Stop stops everything, functions first (they drain in-flight requests), and waits.
func (s *Stack) Stop() {
	s.cancel()
	s.wg.Wait()
	s.lags.close() // before Kafka stops
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
	s.cleanup = nil
}

// run runs part in the background; its failure stops the stack.
func (s *Stack) run(ctx context.Context, name string, part func(context.Context) error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := part(ctx); err != nil && ctx.Err() == nil {
			s.fail(fmt.Errorf("%s: %w", name, err))
		}
	}()
}

// fail reports a part's failure to Wait. The first one is what stops the stack; later ones are
// only logged, so a part never blocks on a channel nobody reads (Stop waits for every part).
func (s *Stack) fail(err error) {
	select {
	case s.errc <- err:
	default:
		slog.Error("stack part failed", "err", err)
	}
}

// serve serves h on addr until ctx ends and returns its base URL.
func (s *Stack) serve(ctx context.Context, addr string, h http.Handler) (string, error) {
	l, url, err := listen(addr)
	if err != nil {
		return "", err
	}
	s.serveOn(ctx, l, h)
	return url, nil
}

// listen opens addr and returns the listener with its base URL.
func listen(addr string) (net.Listener, string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	return l, "http://" + l.Addr().String(), nil
}

// serveOn serves h on l until ctx ends.
func (s *Stack) serveOn(ctx context.Context, l net.Listener, h http.Handler) {
	srv := httpapi.NewServer(h)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(err)
		}
	}()
}

// startKafka sets the brokers to use and who each part of the stack is there: KAFKA_BROKERS with
// KAFKA_SASL_* for everyone, or an embedded broker persisting to the data folder, with the
// source's and the broker's topics created, SASL required, and one principal per writer or
// reader with only its ACLs (kafkaauth.go).
func (s *Stack) startKafka(ctx context.Context, cfg Config, source *manifests.KafkaSource, broker *eventingv1.Broker) error {
	if len(cfg.Kafka.Brokers) > 0 {
		if _, err := cfg.Kafka.Opts(); err != nil {
			return err
		}
		s.KafkaBrokers, s.Kafka = cfg.Kafka.Brokers, cfg.Kafka
		s.kafkaAs = func(string) kafka.Config { return cfg.Kafka }
		return nil
	}
	triggerGroups := triggerGroup(broker.Namespace, "")
	auth, err := loadKafkaAuth(cfg.DataDir, kafkaACLs(&sourceTopics{source.Spec.Topics, source.Spec.ConsumerGroup}, s.Topic, triggerGroups))
	if err != nil {
		return err
	}
	topics := append([]string{s.Topic}, source.Spec.Topics...)
	cluster, err := kfake.NewCluster(append(auth.options(),
		kfake.NumBrokers(1),
		kfake.Ports(cfg.KafkaPort),
		kfake.SeedTopics(topicPartitions, topics...),
		kfake.DataDir(filepath.Join(cfg.DataDir, "kafka")),
	)...)
	if err != nil {
		return fmt.Errorf("embedded Kafka on port %d: %w (set ORDERSAGA_KAFKA_PORT or KAFKA_BROKERS)", cfg.KafkaPort, err)
	}
	s.cleanup = append(s.cleanup, cluster.Close)
	s.KafkaBrokers = cluster.ListenAddrs()
	if err := auth.provision(ctx, s.KafkaBrokers); err != nil {
		return err
	}
	s.kafkaAs = func(p string) kafka.Config { return auth.config(s.KafkaBrokers, p) }
	s.Kafka = s.kafkaAs(principalCLI)
	return nil
}

// gatewayService is config/'s public REST gateway.
const gatewayService = "gateway"

// topicPartitions matches config/'s broker ConfigMap: orders in parallel, each order in order.
const topicPartitions = 12

// brokerTopic is the Kafka broker's topic naming: knative-broker-<namespace>-<name>.
func brokerTopic(namespace, name string) string {
	return fmt.Sprintf("knative-broker-%s-%s", namespace, name)
}

// functionEnv is what a function process gets: its database and port, and where its peers are.
func functionEnv(name string, cfg Config, dbURL string, urls map[string]string, s *Stack) []string {
	env := []string{"K_SINK=" + s.Ingress}
	if dbURL != "" {
		env = append(env, "DATABASE_URL="+dbURL)
	}
	jwks := "AUTH_JWKS_URL=" + urls["user"] + "/.well-known/jwks.json"
	switch name {
	case "order":
		env = append(env, jwks, "OUTBOX_SWEEP_INTERVAL=5s")
		env = append(env, s.kafkaAs(principalOrder).Env()...)
	case "inventory", "deadletter":
		env = append(env, jwks)
	case "payment":
		env = append(env, "PAYMENT_SUCCESS_RATE="+cfg.PaymentSuccessRate)
	case "user":
		env = append(env,
			"AUTH_DEV_KEY_FILE="+filepath.Join(cfg.DataDir, "dev-signing-key.pem"),
			"BOOTSTRAP_ADMIN_EMAIL="+s.AdminEmail, "BOOTSTRAP_ADMIN_PASSWORD="+s.AdminPassword,
			"ADMIN_EMAILS="+s.AdminEmail, "COOKIE_INSECURE=true")
	}
	return env
}

// resolve turns a Knative destination into a local URL: a Service is its process, a Broker
// its ingress, a URI itself.
func resolve(d duckv1.Destination, urls map[string]string, ingress string) (string, error) {
	switch {
	case d.Ref != nil && d.Ref.Kind == "Service":
		if u, ok := urls[d.Ref.Name]; ok {
			return u + "/", nil
		}
		return "", fmt.Errorf("service %q is not a function of this repository", d.Ref.Name)
	case d.Ref != nil && d.Ref.Kind == "Broker":
		return ingress, nil
	case d.URI != nil:
		return d.URI.String(), nil
	}
	return "", errors.New("destination names neither a Service, a Broker nor a URI")
}

// buildFunctions compiles cmd/<name> for every Service in config/ into the data folder.
func buildFunctions(ctx context.Context, cfg Config, set *manifests.Set) (map[string]string, error) {
	binDir, err := filepath.Abs(filepath.Join(cfg.DataDir, "bin"))
	if err != nil {
		return nil, err
	}
	bins := map[string]string{}
	args := []string{"build", "-trimpath", "-o", binDir + "/"}
	for _, svc := range set.Services {
		if svc.Name == gatewayService {
			continue // served in-process on GatewayAddr, with the same handler
		}
		bins[svc.Name] = filepath.Join(binDir, svc.Name)
		args = append(args, "./cmd/"+svc.Name)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = cfg.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build functions: %v\n%s", err, out)
	}
	return bins, nil
}

func logf(format string, args ...any) { slog.Info(fmt.Sprintf(format, args...)) }

// Summary is what a person needs to use the running stack.
func (s *Stack) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nordersaga is running. Ctrl-C stops it.\n\n")
	fmt.Fprintf(&b, "  gateway (REST)   %s\n", s.GatewayURL)
	fmt.Fprintf(&b, "  web console      %s/console/\n", s.GatewayURL)
	for _, name := range []string{"user", "order", "inventory", "payment", "shipping", "deadletter"} {
		if p, ok := s.procs[name]; ok {
			fmt.Fprintf(&b, "  %-16s %s\n", name, p.url())
		}
		if f, ok := s.scaled[name]; ok {
			fmt.Fprintf(&b, "  %-16s %s (activator; %d-%d instances, target %.0f %s)\n", name, f.url,
				f.spec.Min, f.spec.Max, f.spec.Decider.TargetValue, f.spec.Decider.ScalingMetric)
		}
	}
	if len(s.scaled) > 0 {
		fmt.Fprintf(&b, "  scaling          on: idle functions go to zero and wake on a request; `ordersctl top` shows them\n")
	}
	fmt.Fprintf(&b, "  broker ingress   %s (topic %s)\n", s.Ingress, s.Topic)
	if s.MetricsURL != "" {
		fmt.Fprintf(&b, "  metrics          %s/metrics (Prometheus; every function's, and the broker's deliveries)\n", s.MetricsURL)
	}
	fmt.Fprintf(&b, "  kafka            %s\n", s.Kafka)
	if s.Kafka.Mechanism != "" {
		fmt.Fprintf(&b, "                   (SASL required: every principal's password is in %s; ordersctl reads it from there)\n",
			filepath.Join(s.dataDir, kafka.CredentialsFile))
	}
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "  admin login      %s / %s\n", s.AdminEmail, s.AdminPassword)
	fmt.Fprintf(&b, "  try              curl -s %s/login -H 'Content-Type: application/json' -d '{\"email\":%q,\"password\":%q}'\n\n",
		s.GatewayURL, s.AdminEmail, s.AdminPassword)
	return b.String()
}

// generatedPassword is the local admin's password when none is configured: generated on the
// first run and kept in the data folder, since the user function creates the admin only once.
func generatedPassword(dataDir string) (string, error) {
	return secretFile(filepath.Join(dataDir, "admin-password"))
}
