package manifests

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"knative.dev/eventing/pkg/apis/feature"
	"knative.dev/pkg/apis"
)

// WebhookContext is the context Knative's admission webhooks validate a newly created object in:
// the default feature flags (delivery timeout on, cross-namespace links off, ...) with
// authentication-oidc enabled, which this project requires (EventPolicies; docs/SECURITY.md),
// and "within create". Defaults for serving and eventing come from their FromContextOrDefaults.
func WebhookContext(ctx context.Context) context.Context {
	flags, _ := feature.NewFlagsConfigFromMap(map[string]string{feature.OIDCAuthentication: string(feature.Enabled)})
	return apis.WithinCreate(feature.ToContext(ctx, flags))
}

// knativeObject is what Knative's webhook does with every object: default it, then validate it.
type knativeObject interface {
	apis.Defaultable
	apis.Validatable
}

// Validate checks every object as the cluster would on `kubectl apply`, and reports all problems
// together, each naming its object:
//   - Knative objects (Broker, Trigger, PingSource, EventPolicy, Service) are defaulted and
//     validated on a copy with their own SetDefaults and Validate in WebhookContext;
//   - every namespaced object must name its namespace (nothing depends on the kubectl context);
//   - names are DNS-1123 subdomains, ConfigMap and Secret keys valid;
//   - NetworkPolicies by validateNetworkPolicy;
//   - KafkaSources are checked by KafkaSource.Validate;
//   - CRD-backed objects (KafkaSource, KafkaTopic, Cluster) are validated against crds; with crds
//     nil that check is skipped (see FindCRDs for when that is allowed).
func (s *Set) Validate(ctx context.Context, crds *CRDs) error {
	ctx = WebhookContext(ctx)
	var errs []error
	for _, o := range s.Objects {
		if err := validateObject(ctx, o, crds); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o, err))
		}
	}
	for _, ks := range s.KafkaSources {
		if fe := ks.Validate(ctx); fe != nil {
			errs = append(errs, fmt.Errorf("KafkaSource %s/%s: %w", ks.Namespace, ks.Name, fe))
		}
	}
	return errors.Join(errs...)
}

func validateObject(ctx context.Context, o Object, crds *CRDs) error {
	var errs []error
	if o.Name == "" {
		errs = append(errs, errors.New("metadata.name is required"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(o.Name) {
			errs = append(errs, fmt.Errorf("metadata.name %q: %s", o.Name, msg))
		}
	}
	if clusterScopedKinds[o.GVK] {
		if o.Namespace != "" {
			errs = append(errs, fmt.Errorf("%s is cluster-scoped: metadata.namespace must be empty", o.GVK.Kind))
		}
	} else if o.Namespace == "" {
		errs = append(errs, errors.New("metadata.namespace is required (manifests must not depend on the kubectl context)"))
	}
	switch v := o.Value.(type) {
	case knativeObject:
		obj := deepCopy(v)
		obj.SetDefaults(ctx)
		if fe := obj.Validate(ctx); fe != nil {
			errs = append(errs, fe)
		}
	case *corev1.ConfigMap:
		for key := range v.Data {
			for _, msg := range validation.IsConfigMapKey(key) {
				errs = append(errs, fmt.Errorf("data key %q: %s", key, msg))
			}
		}
	case *corev1.Secret:
		keys := map[string]bool{}
		for key := range v.Data {
			keys[key] = true
		}
		for key := range v.StringData {
			keys[key] = true
		}
		for key := range keys {
			for _, msg := range validation.IsConfigMapKey(key) {
				errs = append(errs, fmt.Errorf("data key %q: %s", key, msg))
			}
		}
		if v.Type == corev1.SecretTypeBasicAuth && !keys[corev1.BasicAuthUsernameKey] && !keys[corev1.BasicAuthPasswordKey] {
			errs = append(errs, errors.New("a kubernetes.io/basic-auth Secret needs username or password"))
		}
	case *networkingv1.NetworkPolicy:
		if err := validateNetworkPolicy(v); err != nil {
			errs = append(errs, err)
		}
	case *KafkaUser:
		if err := v.Validate(); err != nil {
			errs = append(errs, err)
		}
	case *unstructured.Unstructured:
		if crds != nil {
			if err := crds.Validate(ctx, v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// deepCopy copies a Knative object so that defaulting does not change the loaded Set.
func deepCopy(v knativeObject) knativeObject {
	if ro, ok := v.(runtime.Object); ok {
		if c, ok := ro.DeepCopyObject().(knativeObject); ok {
			return c
		}
	}
	return v
}
