package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"github.com/ordersaga/ordersaga/internal/manifests"
)

// loadManifests reads config/ and triggers/ and validates them as the cluster's webhooks would:
// an invalid Trigger stops the stack with Knative's own message.
func loadManifests(ctx context.Context, root string) (*manifests.Set, error) {
	set, err := manifests.Load(filepath.Join(root, "config"), filepath.Join(root, "triggers"))
	if err != nil {
		return nil, fmt.Errorf("reading manifests: %w", err)
	}
	if err := set.Validate(ctx, nil); err != nil {
		return nil, fmt.Errorf("invalid manifests:\n%w", err)
	}
	return set, nil
}

// routing finds the one Broker and the one KafkaSource feeding it.
func routing(set *manifests.Set) (*eventingv1.Broker, *manifests.KafkaSource, error) {
	if len(set.Brokers) != 1 {
		return nil, nil, fmt.Errorf("config/ defines %d Brokers; the local stack emulates exactly one", len(set.Brokers))
	}
	if len(set.KafkaSources) != 1 {
		return nil, nil, fmt.Errorf("config/ defines %d KafkaSources; the local stack emulates exactly one", len(set.KafkaSources))
	}
	ks := set.KafkaSources[0]
	if err := ks.Validate(context.Background()); err != nil {
		return nil, nil, fmt.Errorf("KafkaSource %s: %w", ks.Name, err)
	}
	if len(ks.Spec.Topics) == 0 || ks.Spec.ConsumerGroup == "" {
		return nil, nil, errors.New("the KafkaSource needs topics and a consumerGroup")
	}
	return set.Brokers[0], ks, nil
}
