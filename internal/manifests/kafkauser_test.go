package manifests_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ordersaga/ordersaga/internal/manifests"
)

const (
	sourceTopic = "orders.events"
	brokerTopic = "knative-broker-ordersaga-default"
)

// secretKeys is every key of the Secret namespace/name in set, or nil when there is none.
func secretKeys(set *manifests.Set, namespace, name string) map[string]string {
	for _, s := range set.Secrets {
		if s.Namespace == namespace && s.Name == name {
			keys := map[string]string{}
			for k, v := range s.Data {
				keys[k] = string(v)
			}
			for k, v := range s.StringData {
				keys[k] = v
			}
			return keys
		}
	}
	return nil
}

func configWithSecrets(t *testing.T) *manifests.Set {
	t.Helper()
	set, err := manifests.Load(filepath.Join(root, "config"))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// kafkaUser is the KafkaUser that logs in with the client Secret namespace/name: the one whose
// name is the Secret's user key.
func kafkaUser(t *testing.T, set *manifests.Set, namespace, secret string) *manifests.KafkaUser {
	t.Helper()
	keys := secretKeys(set, namespace, secret)
	if keys == nil {
		t.Fatalf("Secret %s/%s is not defined in config/", namespace, secret)
	}
	for _, k := range []string{"protocol", "sasl.mechanism", "user", "password"} {
		if keys[k] == "" {
			t.Errorf("Secret %s/%s has no %s", namespace, secret, k)
		}
	}
	if keys["sasl.mechanism"] != "SCRAM-SHA-512" || !strings.HasPrefix(keys["protocol"], "SASL_") {
		t.Errorf("Secret %s/%s: protocol %q, mechanism %q; want SASL_* with SCRAM-SHA-512", namespace, secret, keys["protocol"], keys["sasl.mechanism"])
	}
	for _, u := range set.KafkaUsers {
		if u.Name == keys["user"] {
			return u
		}
	}
	t.Fatalf("Secret %s/%s logs in as %q, which no KafkaUser defines", namespace, secret, keys["user"])
	return nil
}

// Every Kafka client config/ deploys logs in, each as a KafkaUser of its own.
func TestEveryKafkaClientHasCredentials(t *testing.T) {
	set := configWithSecrets(t)
	users := map[string]*manifests.KafkaUser{}

	// The KafkaSource: spec.net.sasl from one Secret.
	if len(set.KafkaSources) != 1 {
		t.Fatalf("want one KafkaSource, have %d", len(set.KafkaSources))
	}
	ks := set.KafkaSources[0]
	enabled, _, _ := unstructured.NestedBool(ks.Object.Object, "spec", "net", "sasl", "enable")
	if !enabled {
		t.Error("KafkaSource: spec.net.sasl.enable is not true")
	}
	var secret string
	for _, field := range []string{"user", "password", "type"} {
		ref, _, _ := unstructured.NestedStringMap(ks.Object.Object, "spec", "net", "sasl", field, "secretKeyRef")
		want := map[string]string{"user": "user", "password": "password", "type": "sasl.mechanism"}[field]
		if ref["key"] != want || ref["name"] == "" {
			t.Errorf("KafkaSource: spec.net.sasl.%s.secretKeyRef = %v, want key %s of a Secret", field, ref, want)
		}
		if secret == "" {
			secret = ref["name"]
		} else if ref["name"] != secret {
			t.Errorf("KafkaSource: spec.net.sasl takes %s from %s, the rest from %s", field, ref["name"], secret)
		}
	}
	users["kafka source"] = kafkaUser(t, set, ks.Namespace, secret)

	// The Kafka Broker: auth.secret.ref.name in its ConfigMap.
	b := set.Brokers[0]
	var cm *corev1.ConfigMap
	for _, c := range set.ConfigMaps {
		if c.Namespace == b.Spec.Config.Namespace && c.Name == b.Spec.Config.Name {
			cm = c
		}
	}
	if cm == nil || cm.Data["auth.secret.ref.name"] == "" {
		t.Fatalf("the Broker's ConfigMap has no auth.secret.ref.name")
	}
	users["broker"] = kafkaUser(t, set, cm.Namespace, cm.Data["auth.secret.ref.name"])

	// Every Service with KAFKA_BROKERS: KAFKA_SASL_* from one Secret.
	clients := 0
	for _, svc := range set.Services {
		for _, c := range svc.Spec.Template.Spec.Containers {
			env := map[string]corev1.EnvVar{}
			for _, e := range c.Env {
				env[e.Name] = e
			}
			if _, ok := env["KAFKA_BROKERS"]; !ok {
				continue
			}
			clients++
			var secret string
			for name, key := range map[string]string{"KAFKA_SASL_MECHANISM": "sasl.mechanism", "KAFKA_SASL_USERNAME": "user", "KAFKA_SASL_PASSWORD": "password"} {
				e, ok := env[name]
				if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Key != key {
					t.Errorf("service %s reaches Kafka without %s from a Secret's %s", svc.Name, name, key)
					continue
				}
				if secret != "" && secret != e.ValueFrom.SecretKeyRef.Name {
					t.Errorf("service %s takes its Kafka credentials from two Secrets", svc.Name)
				}
				secret = e.ValueFrom.SecretKeyRef.Name
			}
			if secret != "" {
				users["service "+svc.Name] = kafkaUser(t, set, svc.Namespace, secret)
			}
		}
	}
	if clients == 0 {
		t.Error("no Service reaches Kafka: the order function should")
	}

	seen := map[string]string{}
	for client, u := range users {
		if other, ok := seen[u.Name]; ok {
			t.Errorf("%s and %s share the KafkaUser %s", client, other, u.Name)
		}
		seen[u.Name] = client
	}

	// Every KafkaUser's password is the one its client Secret holds: a Secret in the user's own
	// namespace, which make secrets fills with the same value.
	for _, u := range set.KafkaUsers {
		if u.Spec.Authentication.Type != "scram-sha-512" || u.Spec.Authentication.Password == nil {
			t.Errorf("KafkaUser %s: want scram-sha-512 with its password from a Secret", u.Name)
			continue
		}
		ref := u.Spec.Authentication.Password.ValueFrom.SecretKeyRef
		if keys := secretKeys(set, u.Namespace, ref.Name); keys == nil || keys[ref.Key] == "" {
			t.Errorf("KafkaUser %s: password Secret %s/%s key %s is not defined in config/", u.Name, u.Namespace, ref.Name, ref.Key)
		}
	}
}

// The ACLs are minimal: each principal may do exactly what its part of the saga needs.
func TestKafkaUsersACLsAreMinimal(t *testing.T) {
	set := configWithSecrets(t)
	type can struct{ resource, name, op string }
	want := map[string][]can{
		"ordersaga-order": {{"topic", sourceTopic, "Write"}, {"topic", sourceTopic, "Describe"}},
		"ordersaga-kafka-source": {{"topic", sourceTopic, "Read"}, {"topic", sourceTopic, "Describe"},
			{"group", "ordersaga-orders-events", "Read"}},
		"ordersaga-knative-broker": {{"topic", brokerTopic, "Read"}, {"topic", brokerTopic, "Write"}, {"topic", brokerTopic, "Describe"},
			{"topic", brokerTopic, "Create"}, {"topic", brokerTopic, "Delete"}, {"topic", brokerTopic, "DescribeConfigs"},
			{"group", "knative-trigger-ordersaga-order-order-requested", "Read"}},
		"ordersaga-ordersctl": {{"topic", sourceTopic, "Read"}, {"topic", sourceTopic, "Write"},
			{"topic", brokerTopic, "Read"}, {"topic", brokerTopic, "Write"}},
		// The gateway's console watches the broker topic with no consumer group.
		"ordersaga-console": {{"topic", brokerTopic, "Read"}},
	}
	// What each must not do: the forging paths of the issue and anything beyond its part.
	var probes []can
	for _, topic := range []string{sourceTopic, brokerTopic, "other"} {
		for _, op := range []string{"Read", "Write", "Create", "Delete", "Alter", "AlterConfigs", "Describe", "DescribeConfigs"} {
			probes = append(probes, can{"topic", topic, op})
		}
	}
	for _, g := range []string{"ordersaga-orders-events", "knative-trigger-ordersaga-x", "knative-trigger-other-x", "other"} {
		probes = append(probes, can{"group", g, "Read"}, can{"group", g, "Delete"})
	}
	for _, op := range []string{"Alter", "ClusterAction", "Create", "IdempotentWrite", "Describe"} {
		probes = append(probes, can{"cluster", "kafka-cluster", op})
	}

	if len(set.KafkaUsers) != len(want) {
		t.Errorf("want %d KafkaUsers, have %d", len(want), len(set.KafkaUsers))
	}
	for _, u := range set.KafkaUsers {
		allowed, ok := want[u.Name]
		if !ok {
			t.Errorf("KafkaUser %s is not expected: give it a row here, with its reason", u.Name)
			continue
		}
		for _, a := range allowed {
			if !u.Allows(a.resource, a.name, a.op) {
				t.Errorf("KafkaUser %s cannot %s %s %s, which it needs", u.Name, a.op, a.resource, a.name)
			}
		}
		for _, p := range probes {
			expected := slices.Contains(allowed, p) ||
				p.op == "Describe" && slices.ContainsFunc(allowed, func(a can) bool { return a.resource == p.resource && a.name == p.name }) ||
				p.resource == "group" && strings.HasPrefix(p.name, "knative-trigger-ordersaga-") && p.op == "Read" && u.Name == "ordersaga-knative-broker"
			if got := u.Allows(p.resource, p.name, p.op); got && !expected {
				t.Errorf("KafkaUser %s may %s %s %s: more than it needs", u.Name, p.op, p.resource, p.name)
			}
		}
		for _, acl := range u.Spec.Authorization.ACLs {
			if acl.Resource.Name == "*" || acl.Resource.Type == "cluster" || slices.Contains(acl.Operations, "All") {
				t.Errorf("KafkaUser %s: ACL %+v is wider than a named topic or group", u.Name, acl)
			}
		}
	}
	// Only the order function and the admin CLI may write orders.events.
	var writers []string
	for _, u := range set.KafkaUsers {
		if u.Allows("topic", sourceTopic, "Write") {
			writers = append(writers, u.Name)
		}
	}
	slices.Sort(writers)
	if fmt.Sprint(writers) != "[ordersaga-order ordersaga-ordersctl]" {
		t.Errorf("writers of %s: %v, want the order function and ordersctl only", sourceTopic, writers)
	}
}

func TestInvalidKafkaUser(t *testing.T) {
	const head = `apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaUser
metadata:
  name: u
  namespace: kafka
spec:
`
	for _, tc := range []struct {
		name, spec string
		want       []string
	}{
		{"unknown field", `  authentication: {type: scram-sha-512}
  authorization: {type: simple, acls: []}
  quotas: {producerByteRate: 1}
`, []string{"unknown field", "quotas"}},
		{"bad values", `  authentication: {type: scram-sha-256}
  authorization:
    type: opa
    acls:
      - resource: {type: topic}
        operations: [Produce]
      - resource: {type: group, name: g, patternType: regex}
        operations: []
`, []string{"scram-sha-256", "opa", "resource.name is required", `"Produce"`, "regex", "operations is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, validate(t, head+tc.spec), tc.want...)
		})
	}
}
