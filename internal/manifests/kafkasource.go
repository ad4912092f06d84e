package manifests

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// KafkaSource is the part of a KafkaSource (sources.knative.dev) that routing needs: which
// topics of which Kafka cluster it reads, as which consumer group, from which offset, in which
// order, and where it sends each record as a CloudEvent. The object as written stays in Object.
type KafkaSource struct {
	Namespace   string
	Name        string
	Annotations map[string]string
	Spec        KafkaSourceSpec
	Object      *unstructured.Unstructured
	// decodeErr is set when spec does not have the shape of KafkaSourceSpec.
	decodeErr error
}

// KafkaSourceSpec is the subset of the KafkaSource spec that this project uses.
type KafkaSourceSpec struct {
	BootstrapServers []string `json:"bootstrapServers"`
	Topics           []string `json:"topics"`
	ConsumerGroup    string   `json:"consumerGroup"`
	// InitialOffset is "earliest" or "latest" (the source's default).
	InitialOffset string `json:"initialOffset"`
	// Ordering is "ordered" (the default: one record at a time per partition) or "unordered".
	Ordering string             `json:"ordering"`
	Sink     duckv1.Destination `json:"sink"`
}

// Values the KafkaSource accepts for initialOffset and ordering.
const (
	OffsetEarliest = "earliest"
	OffsetLatest   = "latest"
	Ordered        = "ordered"
	Unordered      = "unordered"
)

func newKafkaSource(u *unstructured.Unstructured) *KafkaSource {
	ks := &KafkaSource{Namespace: u.GetNamespace(), Name: u.GetName(), Annotations: u.GetAnnotations(), Object: u}
	if spec, ok := u.Object["spec"]; ok {
		js, err := json.Marshal(spec)
		if err == nil {
			err = json.Unmarshal(js, &ks.Spec)
		}
		ks.decodeErr = err
	}
	return ks
}

// Validate checks what a KafkaSource needs to deliver anything: bootstrap servers, topics and a
// sink (a valid Knative destination), and known values for initialOffset and ordering. The CRD
// schema check in Set.Validate is stricter about shape; this one gives the clear message.
func (ks *KafkaSource) Validate(ctx context.Context) *apis.FieldError {
	var errs *apis.FieldError
	if ks.decodeErr != nil {
		return apis.ErrGeneric(fmt.Sprintf("spec does not have the shape of a KafkaSource spec: %v", ks.decodeErr), "spec")
	}
	spec := ks.Spec
	if len(spec.BootstrapServers) == 0 {
		errs = errs.Also(apis.ErrMissingField("spec.bootstrapServers"))
	}
	for i, s := range spec.BootstrapServers {
		if s == "" {
			errs = errs.Also(apis.ErrInvalidArrayValue(s, "spec.bootstrapServers", i))
		}
	}
	if len(spec.Topics) == 0 {
		errs = errs.Also(apis.ErrMissingField("spec.topics"))
	}
	for i, t := range spec.Topics {
		if t == "" {
			errs = errs.Also(apis.ErrInvalidArrayValue(t, "spec.topics", i))
		}
	}
	if spec.Sink.Ref == nil && spec.Sink.URI == nil {
		errs = errs.Also(apis.ErrMissingField("spec.sink"))
	} else {
		errs = errs.Also(spec.Sink.Validate(ctx).ViaField("spec", "sink"))
	}
	switch spec.InitialOffset {
	case "", OffsetEarliest, OffsetLatest:
	default:
		errs = errs.Also(apis.ErrInvalidValue(spec.InitialOffset, "spec.initialOffset", "must be earliest or latest"))
	}
	switch spec.Ordering {
	case "", Ordered, Unordered:
	default:
		errs = errs.Also(apis.ErrInvalidValue(spec.Ordering, "spec.ordering", "must be ordered or unordered"))
	}
	return errs
}
