package manifests_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"knative.dev/eventing/pkg/kncloudevents"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/manifests"
)

const (
	module    = "github.com/ordersaga/ordersaga"
	namespace = "ordersaga"
)

// root is the module root; the tests run in internal/manifests.
var root = filepath.Join("..", "..")

func load(t *testing.T) *manifests.Set {
	t.Helper()
	set, err := manifests.Load(filepath.Join(root, "config"), filepath.Join(root, "triggers"))
	if err != nil {
		t.Fatalf("load config/ and triggers/: %v", err)
	}
	return set
}

func crds(t *testing.T) *manifests.CRDs {
	t.Helper()
	c, err := manifests.FindCRDs()
	if errors.Is(err, manifests.ErrNoCRDs) {
		t.Logf("skipping CRD schema checks: %v", err)
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestManifestsDecodeAndValidate(t *testing.T) {
	set := load(t)
	if len(set.Objects) == 0 {
		t.Fatal("no objects in config/ and triggers/")
	}
	c := crds(t)
	if err := set.Validate(context.Background(), c); err != nil {
		t.Fatalf("validation failed:\n%v", err)
	}
	if c != nil {
		for _, u := range set.Unstructured {
			if !c.Has(u.GroupVersionKind()) {
				t.Errorf("%s %s: no CRD validated it", u.GetKind(), u.GetName())
			}
		}
	}
	for _, o := range set.Objects {
		t.Logf("ok: %s", o)
	}
}

// The CRD-backed kinds this project relies on are all present.
func TestCRDBackedObjectsPresent(t *testing.T) {
	set := load(t)
	kinds := map[string]int{}
	for _, u := range set.Unstructured {
		kinds[u.GetKind()]++
	}
	for _, k := range []string{"KafkaSource", "KafkaTopic", "Cluster"} {
		if kinds[k] != 1 {
			t.Errorf("want exactly one %s, have %d", k, kinds[k])
		}
	}
}

// Every event type has a Trigger to each function that reacts to it, and to no other; each
// Trigger filters on exactly one type with the filters dialect and names one known type.
func TestTriggersFollowTheEventTable(t *testing.T) {
	set := load(t)
	got := map[events.Type][]string{}
	seen := map[string]string{}
	for _, tr := range set.Triggers {
		typ, err := exactType(tr)
		if err != nil {
			t.Errorf("trigger %s: %v", tr.Name, err)
			continue
		}
		if !events.Known(events.Type(typ)) {
			t.Errorf("trigger %s filters on %q, not a saga event type", tr.Name, typ)
			continue
		}
		ref := tr.Spec.Subscriber.Ref
		if ref == nil || ref.Kind != "Service" || ref.APIVersion != "serving.knative.dev/v1" {
			t.Errorf("trigger %s: subscriber must reference a Knative Service, got %+v", tr.Name, tr.Spec.Subscriber)
			continue
		}
		if tr.Spec.Broker != "default" {
			t.Errorf("trigger %s: broker %q, want default", tr.Name, tr.Spec.Broker)
		}
		key := typ + " -> " + ref.Name
		if other, dup := seen[key]; dup {
			t.Errorf("triggers %s and %s both route %s", other, tr.Name, key)
		}
		seen[key] = tr.Name
		got[events.Type(typ)] = append(got[events.Type(typ)], ref.Name)
	}
	// The extensions (ORDER_CANCEL_REQUESTED) are routed like the seed's types.
	for _, typ := range slices.Concat(events.All, events.Extensions) {
		want := append([]string(nil), events.Reactions[typ]...)
		have := append([]string(nil), got[typ]...)
		sort.Strings(want)
		sort.Strings(have)
		if !reflect.DeepEqual(want, have) {
			t.Errorf("%s is routed to %v, the event table says %v", typ, have, want)
		}
	}
	if n := len(events.All) + len(events.Extensions); n != len(events.Reactions) {
		t.Errorf("events.All and Extensions have %d types, Reactions %d", n, len(events.Reactions))
	}
}

func exactType(tr *eventingv1.Trigger) (string, error) {
	if tr.Spec.Filter != nil && len(tr.Spec.Filter.Attributes) > 0 {
		return "", errors.New("uses the legacy filter; use filters")
	}
	if len(tr.Spec.Filters) != 1 {
		return "", fmt.Errorf("want exactly one filter, have %d", len(tr.Spec.Filters))
	}
	f := tr.Spec.Filters[0]
	if len(f.Exact) != 1 || f.Exact["type"] == "" {
		return "", fmt.Errorf("want filters: [{exact: {type: ...}}], have %+v", f)
	}
	return f.Exact["type"], nil
}

// Every Trigger delivers with retries, a timeout and the dead-letter sink, in order per order
// id. Its retry budget outlasts a function's restart (minutes, not seconds) while no single wait
// is so long that a recovered function idles: the dead-letter store and its redrive take over
// after that.
func TestTriggerDelivery(t *testing.T) {
	for _, tr := range load(t).Triggers {
		d := tr.Spec.Delivery
		switch {
		case d == nil:
			t.Errorf("trigger %s: no delivery spec", tr.Name)
			continue
		case d.Retry == nil || *d.Retry < 1:
			t.Errorf("trigger %s: no retries", tr.Name)
		case d.BackoffPolicy == nil || d.BackoffDelay == nil || d.Timeout == nil:
			t.Errorf("trigger %s: backoffPolicy, backoffDelay and timeout are required", tr.Name)
		case d.DeadLetterSink == nil || d.DeadLetterSink.Ref == nil || d.DeadLetterSink.Ref.Name != "deadletter":
			t.Errorf("trigger %s: dead-letter sink must be the deadletter Service", tr.Name)
		default:
			retry, err := kncloudevents.RetryConfigFromDeliverySpec(*d)
			if err != nil {
				t.Fatalf("trigger %s: %v", tr.Name, err)
			}
			var total, longest time.Duration
			for attempt := range retry.RetryMax { // as go-retryablehttp numbers the waits: from 0
				wait := retry.Backoff(attempt, nil)
				total, longest = total+wait, max(longest, wait)
			}
			if total < 2*time.Minute || longest > time.Minute {
				t.Errorf("trigger %s: retries wait %s in all, at most %s at once; want at least 2m in all, at most 1m at once", tr.Name, total, longest)
			}
		}
		// Unordered, so a burst reaches the function's concurrency target: the saga tolerates any
		// interleaving of deliveries (internal/sagatest) and concurrent duplicates (internal/inbox).
		if got := tr.Annotations["kafka.eventing.knative.dev/delivery.order"]; got != "unordered" {
			t.Errorf("trigger %s: delivery.order %q, want unordered", tr.Name, got)
		}
	}
}

// Every reference names an object defined in config/: Trigger subscribers and dead-letter sinks,
// the Broker's config and dead-letter sink, the KafkaSource's and PingSource's sinks, and every
// ConfigMap and Secret a Service reads.
func TestReferencesResolve(t *testing.T) {
	set := load(t)
	config, err := manifests.Load(filepath.Join(root, "config"))
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(what string, parentNS string, ref *duckv1.KReference) {
		t.Helper()
		if ref == nil {
			t.Errorf("%s: no ref", what)
			return
		}
		ns := ref.Namespace
		if ns == "" {
			ns = parentNS
		}
		if _, ok := config.Find(ref.APIVersion, ref.Kind, ns, ref.Name); !ok {
			t.Errorf("%s: %s %s %s/%s is not defined in config/", what, ref.APIVersion, ref.Kind, ns, ref.Name)
		}
	}
	for _, tr := range set.Triggers {
		resolve("trigger "+tr.Name+" subscriber", tr.Namespace, tr.Spec.Subscriber.Ref)
		if d := tr.Spec.Delivery; d != nil && d.DeadLetterSink != nil {
			resolve("trigger "+tr.Name+" deadLetterSink", tr.Namespace, d.DeadLetterSink.Ref)
		}
		if _, ok := config.Find("eventing.knative.dev/v1", "Broker", tr.Namespace, tr.Spec.Broker); !ok {
			t.Errorf("trigger %s: broker %q is not defined in config/", tr.Name, tr.Spec.Broker)
		}
	}
	if len(set.Brokers) != 1 || set.Brokers[0].Name != "default" {
		t.Fatalf("want one Broker named default, have %d", len(set.Brokers))
	}
	b := set.Brokers[0]
	if b.Annotations["eventing.knative.dev/broker.class"] != "Kafka" {
		t.Errorf("broker class %q, want Kafka", b.Annotations["eventing.knative.dev/broker.class"])
	}
	if b.Spec.Config == nil {
		t.Error("broker has no config")
	} else {
		resolve("broker config", b.Namespace, b.Spec.Config)
	}
	if b.Spec.Delivery == nil || b.Spec.Delivery.DeadLetterSink == nil {
		t.Error("broker has no default delivery with a dead-letter sink")
	} else {
		resolve("broker deadLetterSink", b.Namespace, b.Spec.Delivery.DeadLetterSink.Ref)
	}
	if len(set.KafkaSources) != 1 {
		t.Fatalf("want one KafkaSource, have %d", len(set.KafkaSources))
	}
	ks := set.KafkaSources[0]
	resolve("KafkaSource sink", ks.Namespace, ks.Spec.Sink.Ref)
	if ks.Spec.Sink.Ref != nil && (ks.Spec.Sink.Ref.Kind != "Broker" || ks.Spec.Sink.Ref.Name != "default") {
		t.Errorf("KafkaSource sink must be the Broker default, is %+v", ks.Spec.Sink.Ref)
	}
	if !reflect.DeepEqual(ks.Spec.Topics, []string{"orders.events"}) || ks.Spec.InitialOffset != "earliest" || ks.Spec.Ordering != "ordered" || ks.Spec.ConsumerGroup == "" {
		t.Errorf("KafkaSource: want topic orders.events, a consumer group, earliest, ordered; have %+v", ks.Spec)
	}
	// Each ping goes straight to the one Service it wakes, not through the Broker.
	pingTargets := map[string]string{"outbox-sweep": "order", "deadletter-redrive": "deadletter"}
	if len(set.PingSources) != len(pingTargets) {
		t.Fatalf("want %d PingSources, have %d", len(pingTargets), len(set.PingSources))
	}
	for _, ps := range set.PingSources {
		resolve("PingSource "+ps.Name+" sink", ps.Namespace, ps.Spec.Sink.Ref)
		if want := pingTargets[ps.Name]; ps.Spec.Sink.Ref == nil || ps.Spec.Sink.Ref.Kind != "Service" || ps.Spec.Sink.Ref.Name != want {
			t.Errorf("PingSource %s must go straight to the %q Service", ps.Name, want)
		}
	}
	for _, svc := range set.Services {
		for _, c := range svc.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				checkEnvRef(t, config, svc, e)
			}
		}
	}
}

func checkEnvRef(t *testing.T, config *manifests.Set, svc *servingv1.Service, e corev1.EnvVar) {
	t.Helper()
	if e.ValueFrom == nil {
		return
	}
	if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
		for _, cm := range config.ConfigMaps {
			if cm.Namespace == svc.Namespace && cm.Name == r.Name {
				if _, ok := cm.Data[r.Key]; !ok {
					t.Errorf("service %s env %s: ConfigMap %s has no key %s", svc.Name, e.Name, r.Name, r.Key)
				}
				return
			}
		}
		t.Errorf("service %s env %s: ConfigMap %s is not defined in config/", svc.Name, e.Name, r.Name)
	}
	if r := e.ValueFrom.SecretKeyRef; r != nil {
		for _, s := range config.Secrets {
			if s.Namespace == svc.Namespace && s.Name == r.Name {
				_, inData := s.Data[r.Key]
				_, inString := s.StringData[r.Key]
				if !inData && !inString {
					t.Errorf("service %s env %s: Secret %s has no key %s", svc.Name, e.Name, r.Name, r.Key)
				}
				return
			}
		}
		t.Errorf("service %s env %s: Secret %s is not defined in config/", svc.Name, e.Name, r.Name)
	}
}

// Each reacting function, the dead-letter sink and the gateway is a Service; all but the gateway
// are cluster-local; all scale to zero with their autoscaling annotations on the revision template
// only (the Serving webhook rejects them on the Service's metadata).
func TestServices(t *testing.T) {
	set := load(t)
	want := map[string]bool{"deadletter": true, "user": true, "gateway": true}
	for _, fns := range events.Reactions {
		for _, fn := range fns {
			want[fn] = true
		}
	}
	// Only the gateway is public: it forwards REST paths and nothing else, so no one outside
	// the cluster can POST a saga event to a function.
	public := map[string]bool{"gateway": true}
	for name := range want {
		svc, ok := set.Service(namespace, name)
		if !ok {
			t.Errorf("no Service %s", name)
			continue
		}
		vis := svc.Labels["networking.knative.dev/visibility"]
		if public[name] && vis != "" {
			t.Errorf("service %s is the public entry and must be public, has visibility %q", name, vis)
		}
		if !public[name] && vis != "cluster-local" {
			t.Errorf("service %s receives events and must be cluster-local, has visibility %q", name, vis)
		}
	}
	for _, svc := range set.Services {
		for k := range svc.Annotations {
			if strings.HasPrefix(k, "autoscaling.knative.dev/") {
				t.Errorf("service %s: %s belongs on spec.template.metadata.annotations", svc.Name, k)
			}
		}
		a := svc.Spec.Template.Annotations
		for _, k := range []string{"min-scale", "max-scale", "target", "metric"} {
			if a["autoscaling.knative.dev/"+k] == "" {
				t.Errorf("service %s: no autoscaling.knative.dev/%s on the template", svc.Name, k)
			}
		}
		if a["autoscaling.knative.dev/min-scale"] != "0" {
			t.Errorf("service %s: min-scale %q, want 0 (scale to zero)", svc.Name, a["autoscaling.knative.dev/min-scale"])
		}
		spec := svc.Spec.Template.Spec
		if spec.ContainerConcurrency == nil || *spec.ContainerConcurrency == 0 {
			t.Errorf("service %s: containerConcurrency is not set", svc.Name)
		}
		for _, c := range spec.Containers {
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Errorf("service %s: readiness and liveness probes are required", svc.Name)
			}
			if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("service %s: memory requests and limits are required", svc.Name)
			}
		}
	}
}

// Every ko:// image is a main package of this module, and ko.yaml has a build for it.
func TestKoImagesAreMainPackages(t *testing.T) {
	set := load(t)
	var ko struct {
		DefaultBaseImage string `json:"defaultBaseImage"`
		DefaultPlatforms []string
		Builds           []struct {
			ID      string   `json:"id"`
			Dir     string   `json:"dir"`
			Main    string   `json:"main"`
			Env     []string `json:"env"`
			Flags   []string `json:"flags"`
			Ldflags []string `json:"ldflags"`
		} `json:"builds"`
	}
	data, err := os.ReadFile(filepath.Join(root, "ko.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &ko); err != nil {
		t.Fatalf("ko.yaml: %v", err)
	}
	mains := map[string]bool{}
	for _, b := range ko.Builds {
		dir := filepath.Join(root, b.Dir, b.Main)
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("ko.yaml build %s: main %s does not exist", b.ID, b.Main)
			continue
		}
		assertMainPackage(t, dir)
		if !contains(b.Env, "CGO_ENABLED=0") || !contains(b.Flags, "-trimpath") || !contains(b.Ldflags, "-s") || !contains(b.Ldflags, "-w") {
			t.Errorf("ko.yaml build %s: want CGO_ENABLED=0, -trimpath and -ldflags -s -w", b.ID)
		}
		mains[module+"/"+strings.TrimPrefix(filepath.ToSlash(filepath.Join(b.Dir, b.Main)), "./")] = true
	}
	var images int
	for _, svc := range set.Services {
		for _, c := range svc.Spec.Template.Spec.Containers {
			path, ok := strings.CutPrefix(c.Image, "ko://")
			if !ok {
				t.Errorf("service %s: image %q is not a ko:// reference", svc.Name, c.Image)
				continue
			}
			images++
			rel, ok := strings.CutPrefix(path, module+"/")
			if !ok {
				t.Errorf("service %s: %s is not in module %s", svc.Name, path, module)
				continue
			}
			assertMainPackage(t, filepath.Join(root, filepath.FromSlash(rel)))
			if !mains[path] {
				t.Errorf("service %s: ko.yaml has no build for %s", svc.Name, path)
			}
		}
	}
	if images == 0 {
		t.Error("no ko:// images in config/")
	}
}

func assertMainPackage(t *testing.T, dir string) {
	t.Helper()
	pkg, err := build.ImportDir(dir, 0)
	if err != nil {
		t.Errorf("%s: %v", dir, err)
		return
	}
	if pkg.Name != "main" {
		t.Errorf("%s: package %s, want a main package", dir, pkg.Name)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// The root func.yaml parses against func's schema and is what the generator derives from
// config/ for the order function, so `func deploy` and `ko apply` deploy the same thing.
func TestFuncYAML(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "func.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := manifests.ParseFuncYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	genData, err := manifests.RootFuncYAML(filepath.Join(root, "config"), got.Name)
	if err != nil {
		t.Fatal(err)
	}
	want, err := manifests.ParseFuncYAML(genData)
	if err != nil {
		t.Fatal(err)
	}
	// func writes back what it built and deployed; that is not part of the design.
	got.Created, got.Image, got.Registry, got.Deploy.Image, got.Deploy.Namespace = want.Created, "", "", "", ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("func.yaml differs from `go run ./internal/manifests/funcyaml -function %s`; regenerate it.\nhave %+v\nwant %+v", got.Name, got, want)
	}
	// Every function of config/ has a func.yaml that func's schema accepts.
	set := load(t)
	for _, svc := range set.Services {
		if _, err := manifests.RootFuncYAML(filepath.Join(root, "config"), svc.Name); err != nil {
			t.Errorf("func.yaml for %s: %v", svc.Name, err)
		}
	}
}

// func scans the root *.go files of the func.yaml's folder for a package-level New (instanced)
// or Handle (static), exactly one of the two, and builds that package.
func TestFuncRootPackage(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(root, "*.go"))
	var goFiles []string
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			goFiles = append(goFiles, f)
		}
	}
	if len(goFiles) == 0 {
		msg := "func.yaml needs a root package with New() serving $ORDERSAGA_FUNCTION (see docs); none yet"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var hasNew, hasHandle bool
	for _, f := range goFiles {
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				hasNew = hasNew || fd.Name.Name == "New"
				hasHandle = hasHandle || fd.Name.Name == "Handle"
			}
		}
	}
	if hasNew == hasHandle {
		t.Fatalf("root package: func needs exactly one of New (instanced) and Handle (static); New=%v Handle=%v", hasNew, hasHandle)
	}
}
