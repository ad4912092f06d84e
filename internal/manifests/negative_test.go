package manifests_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/manifests"
)

func validate(t *testing.T, doc string) error {
	t.Helper()
	set, err := manifests.Parse("test.yaml", []byte(doc))
	if err != nil {
		return err
	}
	return set.Validate(context.Background(), nil)
}

func wantError(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
}

const triggerHead = `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: t
  namespace: ordersaga
spec:
  broker: default
`

const subscriber = `  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: order
`

func TestInvalidTriggers(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"two dialects in one filter", triggerHead + `  filters:
    - exact: {type: ORDER_REQUESTED}
      prefix: {type: ORDER_}
` + subscriber, []string{"multiple dialects found, filters can have only one dialect set"}},
		{"missing subscriber", triggerHead + `  filters:
    - exact: {type: ORDER_REQUESTED}
`, []string{"expected at least one, got none", "spec.subscriber"}},
		{"bad attribute name", triggerHead + `  filters:
    - exact: {Type: ORDER_REQUESTED}
` + subscriber, []string{"Attribute name must start with a letter and can only contain lowercase alphanumeric"}},
		{"bad backoff policy", triggerHead + `  filters:
    - exact: {type: ORDER_REQUESTED}
` + subscriber + `  delivery:
    backoffPolicy: sometimes
`, []string{"invalid value: sometimes", "spec.delivery.backoffPolicy"}},
		{"no broker", `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t, namespace: ordersaga}
spec:
` + subscriber, []string{"missing field(s): spec.broker"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, validate(t, tc.doc), tc.want...)
		})
	}
}

func TestUnknownFieldsAreRejected(t *testing.T) {
	_, err := manifests.Parse("test.yaml", []byte(triggerHead+`  filter:
    attributes: {type: X}
  filterz: []
`+subscriber))
	wantError(t, err, `unknown field "filterz"`)

	_, err = manifests.Parse("test.yaml", []byte(`apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ordersaga}
`))
	wantError(t, err, "Pod", "not known")
}

func TestInvalidKafkaSource(t *testing.T) {
	err := validate(t, `apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata:
  name: ks
  namespace: ordersaga
spec:
  consumerGroup: g
  initialOffset: newest
`)
	wantError(t, err, "KafkaSource ordersaga/ks", "missing field(s)", "spec.bootstrapServers", "spec.topics", "spec.sink",
		"invalid value: newest: spec.initialOffset")
}

func TestKafkaSourceAgainstCRD(t *testing.T) {
	crds, err := manifests.FindCRDs()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true requires the CRD schemas: %v", err)
		}
		t.Skipf("no CRDs: %v", err)
	}
	set, err := manifests.Parse("test.yaml", []byte(`apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata: {name: ks, namespace: ordersaga}
spec:
  bootstrapServers: [kafka:9092]
  topics: [orders.events]
  consumerz: 3
  sink:
    ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
`))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, set.Validate(context.Background(), crds), "spec.consumerz", "unknown field")

	set, err = manifests.Parse("test.yaml", []byte(`apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata: {name: t, namespace: kafka}
spec:
  partitions: 0
`))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, set.Validate(context.Background(), crds), "spec.partitions")
}

func TestFuncYAMLStrict(t *testing.T) {
	_, err := manifests.ParseFuncYAML([]byte("specVersion: 0.36.0\nname: x\nruntime: go\ncreated: 2026-01-01T00:00:00Z\nbuild:\n  builder: docker\n"))
	wantError(t, err, "build.builder")
	_, err = manifests.ParseFuncYAML([]byte("specVersion: 0.36.0\nname: x\nruntime: go\ncreated: 2026-01-01T00:00:00Z\ndeploy:\n  options:\n    scale:\n      minimum: 1\n"))
	wantError(t, err, "unknown field")
	_, err = manifests.ParseFuncYAML([]byte("specVersion: 0.36.0\nname: x\nruntime: go\ncreated: 2026-01-01T00:00:00Z\nbuild:\n  builder: host\n"))
	if err != nil {
		t.Errorf("builder host must be accepted: %v", err)
	}
}
