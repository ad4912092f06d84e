package manifests_test

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/ordersaga/ordersaga/internal/manifests"
)

var (
	gvkService = servingv1.SchemeGroupVersion.WithKind("Service")
	gvkBroker  = eventingv1.SchemeGroupVersion.WithKind("Broker")
)

// receivers are the Services events are delivered to: Trigger subscribers, dead-letter sinks
// and PingSource sinks.
func receivers(set *manifests.Set) map[string]bool {
	names := map[string]bool{}
	for _, t := range set.Triggers {
		if r := t.Spec.Subscriber.Ref; r != nil && r.Kind == "Service" {
			names[r.Name] = true
		}
		if d := t.Spec.Delivery; d != nil && d.DeadLetterSink != nil && d.DeadLetterSink.Ref != nil {
			names[d.DeadLetterSink.Ref.Name] = true
		}
	}
	for _, p := range set.PingSources {
		if r := p.Spec.Sink.Ref; r != nil && r.Kind == "Service" {
			names[r.Name] = true
		}
	}
	return names
}

// Every receiver, the Broker included, has an EventPolicy; each of its senders is an object of
// config/ or triggers/ (or a service account config/ defines); and each actual sender is allowed:
// its Triggers (and their dead letters), its PingSource, the KafkaSource into the Broker.
func TestEveryReceiverHasAnEventPolicyNamingItsSenders(t *testing.T) {
	set := load(t)
	if len(set.EventPolicies) == 0 {
		t.Fatal("no EventPolicy in config/ or triggers/")
	}
	for _, p := range set.EventPolicies {
		for _, from := range p.Spec.From {
			switch {
			case from.Ref != nil:
				if _, ok := set.Find(from.Ref.APIVersion, from.Ref.Kind, namespace, from.Ref.Name); !ok {
					t.Errorf("EventPolicy %s: sender %s %s is not in config/ or triggers/", p.Name, from.Ref.Kind, from.Ref.Name)
				}
			case from.Sub != nil:
				sa, ok := strings.CutPrefix(*from.Sub, "system:serviceaccount:"+namespace+":")
				if !ok || !slices.ContainsFunc(set.ServiceAccounts, func(a *corev1.ServiceAccount) bool { return a.Name == sa }) {
					t.Errorf("EventPolicy %s: subject %q is not a service account of config/", p.Name, *from.Sub)
				}
			}
		}
	}
	allowed := func(gvk schema.GroupVersionKind, name string) []string {
		t.Helper()
		s, ok, err := set.Senders(gvk, namespace, name)
		if err != nil || !ok {
			t.Fatalf("%s %s: no EventPolicy (%v)", gvk.Kind, name, err)
		}
		return s
	}
	must := func(receiver []string, who, sender string) {
		t.Helper()
		if !slices.Contains(receiver, sender) {
			t.Errorf("%s does not accept %s", who, sender)
		}
	}
	for name := range receivers(set) {
		allowed(gvkService, name)
	}
	broker := allowed(gvkBroker, "default")
	for _, tr := range set.Triggers {
		id := manifests.OIDCIdentity(eventingv1.SchemeGroupVersion.WithKind("Trigger"), namespace, tr.Name)
		must(allowed(gvkService, tr.Spec.Subscriber.Ref.Name), "subscriber "+tr.Spec.Subscriber.Ref.Name, id)
		must(allowed(gvkService, tr.Spec.Delivery.DeadLetterSink.Ref.Name), "dead-letter sink", id)
		must(broker, "the Broker (replies)", id)
	}
	for _, p := range set.PingSources {
		must(allowed(gvkService, p.Spec.Sink.Ref.Name), "sink of PingSource "+p.Name, manifests.OIDCIdentity(manifests.GVKPingSource, namespace, p.Name))
	}
	for _, ks := range set.KafkaSources {
		must(broker, "the Broker", manifests.OIDCIdentity(manifests.GVKKafkaSource, namespace, ks.Name))
	}
	// Nobody else: the order function writes Kafka, never the Broker over HTTP.
	if slices.Contains(broker, "system:serviceaccount:"+namespace+":default") {
		t.Error("the Broker accepts the namespace's default service account")
	}
}

// A receiver's Service verifies what its EventPolicy says: its env carries Knative's audience
// for it and exactly the policy's senders, and every destination delivering to it names that
// audience (Knative Serving publishes none, so a Trigger without it would send no token).
func TestReceiversVerifyTheirPolicy(t *testing.T) {
	set := load(t)
	for name := range receivers(set) {
		svc, ok := set.Service(namespace, name)
		if !ok {
			t.Fatalf("receiver %s is not a Service", name)
		}
		env := map[string]string{}
		for _, e := range svc.Spec.Template.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		want, _, _ := set.Senders(gvkService, namespace, name)
		if got := strings.Split(env["EVENT_AUTH_SENDERS"], ","); !slices.Equal(got, want) {
			t.Errorf("%s: EVENT_AUTH_SENDERS = %v, its EventPolicy resolves to %v", name, got, want)
		}
		if aud := manifests.Audience(gvkService, namespace, name); env["EVENT_AUTH_AUDIENCE"] != aud {
			t.Errorf("%s: EVENT_AUTH_AUDIENCE = %q, want %q", name, env["EVENT_AUTH_AUDIENCE"], aud)
		}
		if env["EVENT_AUTH"] == "off" {
			t.Errorf("%s: EVENT_AUTH=off", name)
		}
	}
	for _, tr := range set.Triggers {
		for what, d := range map[string]*struct{ ref, aud string }{
			"subscriber":       {tr.Spec.Subscriber.Ref.Name, deref(tr.Spec.Subscriber.Audience)},
			"dead-letter sink": {tr.Spec.Delivery.DeadLetterSink.Ref.Name, deref(tr.Spec.Delivery.DeadLetterSink.Audience)},
		} {
			if want := manifests.Audience(gvkService, namespace, d.ref); d.aud != want {
				t.Errorf("Trigger %s %s audience = %q, want %q", tr.Name, what, d.aud, want)
			}
		}
	}
	for _, p := range set.PingSources {
		if want := manifests.Audience(gvkService, namespace, p.Spec.Sink.Ref.Name); deref(p.Spec.Sink.Audience) != want {
			t.Errorf("PingSource %s sink audience = %q, want %q", p.Name, deref(p.Spec.Sink.Audience), want)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Senders resolves policies as Knative does: to.ref by group, kind and name; a policy without
// `to` for the whole namespace; from.ref to the sender's OIDC service account.
func TestSendersResolution(t *testing.T) {
	set, err := manifests.Parse("policies.yaml", []byte(`
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: a, namespace: ns}
spec:
  to: [{ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: order}}]
  from:
    - sub: system:serviceaccount:ns:x
    - ref: {apiVersion: sources.knative.dev/v1, kind: PingSource, name: tick}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: everyone, namespace: other}
spec:
  from: [{sub: system:serviceaccount:other:y}]
`))
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := set.Senders(gvkService, "ns", "order")
	want := []string{"system:serviceaccount:ns:tick-oidc-sources.knative.dev-pingsource", "system:serviceaccount:ns:x"}
	if err != nil || !ok || !slices.Equal(got, want) {
		t.Fatalf("order: %v %v %v, want %v", got, ok, err, want)
	}
	if _, ok, _ := set.Senders(gvkService, "ns", "payment"); ok {
		t.Error("payment: a policy for order applied")
	}
	if _, ok, _ := set.Senders(gvkBroker, "ns", "order"); ok {
		t.Error("a Broker named order: a policy for the Service applied")
	}
	if got, ok, _ := set.Senders(gvkService, "other", "anything"); !ok || !slices.Equal(got, []string{"system:serviceaccount:other:y"}) {
		t.Errorf("namespace-wide policy: %v %v", got, ok)
	}
}
