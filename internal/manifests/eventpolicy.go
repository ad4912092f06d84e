package manifests

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	knauth "knative.dev/eventing/pkg/auth"
)

// Audience is Knative's OIDC audience for an object: <group>/<kind>/<namespace>/<name>, lower
// case (eventing.knative.dev/broker/ordersaga/default, serving.knative.dev/service/ordersaga/order).
func Audience(gvk schema.GroupVersionKind, namespace, name string) string {
	return knauth.GetAudienceDirect(gvk, namespace, name)
}

// OIDCIdentity is the subject of the tokens Knative requests for an object that sends events
// (a Trigger, a PingSource, a KafkaSource): its dedicated service account,
// system:serviceaccount:<namespace>:<name>-oidc-<group>-<kind>.
func OIDCIdentity(gvk schema.GroupVersionKind, namespace, name string) string {
	sa := knauth.GetOIDCServiceAccountNameForResource(gvk, metav1.ObjectMeta{Namespace: namespace, Name: name})
	return "system:serviceaccount:" + namespace + ":" + sa
}

// Senders resolves the EventPolicies that apply to the receiver (gvk, namespace, name) into the
// subjects they allow, sorted and without duplicates, as Knative lists them in an EventPolicy's
// status.from: a from.sub as it is, a from.ref as the referenced sender's OIDC identity. A policy
// applies when one of its to.ref names the receiver, or when it has no `to` (the whole
// namespace). ok is false when no policy applies: Knative then falls back to the feature's
// default authorization mode, and this project's callers refuse to. Errors: a to.selector (which
// only a cluster's labels can resolve).
func (s *Set) Senders(gvk schema.GroupVersionKind, namespace, name string) (subjects []string, ok bool, err error) {
	for _, p := range s.EventPolicies {
		if p.Namespace != namespace {
			continue
		}
		applies := len(p.Spec.To) == 0
		for _, to := range p.Spec.To {
			if to.Selector != nil {
				return nil, false, fmt.Errorf("EventPolicy %s: to.selector is not supported here; name the receivers with to.ref", p.Name)
			}
			if to.Ref != nil && strings.EqualFold(to.Ref.Kind, gvk.Kind) && to.Ref.Name == name && groupOf(to.Ref.APIVersion) == gvk.Group {
				applies = true
			}
		}
		if !applies {
			continue
		}
		ok = true
		for _, from := range p.Spec.From {
			switch {
			case from.Sub != nil:
				subjects = append(subjects, *from.Sub)
			case from.Ref != nil:
				ns := from.Ref.Namespace
				if ns == "" {
					ns = p.Namespace
				}
				gv, err := schema.ParseGroupVersion(from.Ref.APIVersion)
				if err != nil {
					return nil, false, fmt.Errorf("EventPolicy %s: from.ref apiVersion: %w", p.Name, err)
				}
				subjects = append(subjects, OIDCIdentity(gv.WithKind(from.Ref.Kind), ns, from.Ref.Name))
			}
		}
	}
	slices.Sort(subjects)
	return slices.Compact(subjects), ok, nil
}

// groupOf is the group of an apiVersion ("serving.knative.dev/v1" → "serving.knative.dev", "v1" → "").
func groupOf(apiVersion string) string {
	group, _, found := strings.Cut(apiVersion, "/")
	if !found {
		return ""
	}
	return group
}
