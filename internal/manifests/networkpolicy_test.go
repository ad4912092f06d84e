package manifests_test

import (
	"context"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/ordersaga/ordersaga/internal/manifests"
)

// podLabels are the labels Knative puts on a Service's pods: its template's and
// serving.knative.dev/service.
func podLabels(svc *servingv1.Service) labels.Set {
	l := labels.Set{"serving.knative.dev/service": svc.Name}
	for k, v := range svc.Spec.Template.Labels {
		l[k] = v
	}
	return l
}

func matches(t *testing.T, s *metav1.LabelSelector, l labels.Set) bool {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel.Matches(l)
}

// selecting is every policy of set (in namespace) that selects a pod with labels l.
func selecting(t *testing.T, set *manifests.Set, namespace string, l labels.Set) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, np := range set.NetworkPolicies {
		if np.Namespace == namespace && matches(t, &np.Spec.PodSelector, l) {
			out = append(out, np)
		}
	}
	return out
}

// allowsFrom reports whether one of nps' ingress rules admits a peer with podLabels in the
// policy's namespace, or any pod of namespace ns (when ns is set), on port.
func allowsFrom(t *testing.T, nps []*networkingv1.NetworkPolicy, podLbls labels.Set, ns string, port int32) bool {
	for _, np := range nps {
		for _, rule := range np.Spec.Ingress {
			portOK := len(rule.Ports) == 0
			for _, p := range rule.Ports {
				portOK = portOK || (p.Port != nil && p.Port.IntVal == port)
			}
			if !portOK {
				continue
			}
			for _, peer := range rule.From {
				switch {
				case ns != "" && peer.NamespaceSelector != nil && peer.PodSelector == nil:
					if matches(t, peer.NamespaceSelector, labels.Set{"kubernetes.io/metadata.name": ns}) {
						return true
					}
				case ns == "" && peer.PodSelector != nil && peer.NamespaceSelector == nil:
					if matches(t, peer.PodSelector, podLbls) {
						return true
					}
				}
			}
		}
	}
	return false
}

func TestNetworkPoliciesDecodeAndValidate(t *testing.T) {
	set := load(t)
	if len(set.NetworkPolicies) == 0 {
		t.Fatal("config/ has no NetworkPolicy")
	}
	if err := set.Validate(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// The validation catches what would silently select nothing or nothing right.
	bad := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: ordersaga}
spec:
  podSelector: {matchExpressions: [{key: app, operator: Is, values: [x]}]}
  policyTypes: [Ingres]
  ingress:
    - from: [{}]
      ports: [{protocol: TCP, port: 70000}]
`
	bs, err := manifests.Parse("bad.yaml", []byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	err = bs.Validate(context.Background(), nil)
	for _, want := range []string{"podSelector", "policyTypes", "names no peer", "port"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a policy with a bad %s passed validation: %v", want, err)
		}
	}
}

func TestIngressIsDeniedByDefault(t *testing.T) {
	for _, np := range load(t).NetworkPolicies {
		if np.Namespace == namespace && len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.PodSelector.MatchExpressions) == 0 &&
			len(np.Spec.Ingress) == 0 && len(np.Spec.PolicyTypes) == 1 && np.Spec.PolicyTypes[0] == networkingv1.PolicyTypeIngress {
			return
		}
	}
	t.Error("no default-deny ingress policy (empty podSelector, policyTypes [Ingress], no rules) in the namespace")
}

// Every Service's pods are selected by a policy that lets Knative's data path in (the ingress
// and the activator), and no policy opens them to anything else: without the first, default deny
// would cut the Service off; with more, it would be reachable around the gateway.
func TestEveryServiceIsCoveredByAPolicy(t *testing.T) {
	set := load(t)
	if len(set.Services) == 0 {
		t.Fatal("no Services in config/")
	}
	for _, svc := range set.Services {
		nps := selecting(t, set, svc.Namespace, podLabels(svc))
		if len(nps) == 0 {
			t.Errorf("Service %s: no NetworkPolicy selects its pods; default deny cuts it off", svc.Name)
			continue
		}
		for _, ns := range []string{"kourier-system", "knative-serving"} {
			if !allowsFrom(t, nps, nil, ns, 8012) {
				t.Errorf("Service %s: %s cannot reach queue-proxy (8012)", svc.Name, ns)
			}
		}
		for _, ns := range []string{"default", "kafka", "knative-eventing"} {
			if allowsFrom(t, nps, nil, ns, 8012) {
				t.Errorf("Service %s: namespace %s reaches it directly", svc.Name, ns)
			}
		}
		for _, other := range set.Services {
			if allowsFrom(t, nps, podLabels(other), "", 8012) {
				t.Errorf("Service %s: %s's pods reach it directly, not through Knative", svc.Name, other.Name)
			}
		}
	}
}

// PostgreSQL is reachable from the functions that have a database and from no other Service.
func TestTheDatabaseIsReachableOnlyFromFunctionsWithADatabase(t *testing.T) {
	set := load(t)
	var cluster string
	for _, u := range set.Unstructured {
		if u.GroupVersionKind() == manifests.GVKPostgresCluster {
			cluster = u.GetName()
		}
	}
	if cluster == "" {
		t.Fatal("no CloudNativePG Cluster in config/")
	}
	nps := selecting(t, set, namespace, labels.Set{"cnpg.io/cluster": cluster, "cnpg.io/instanceRole": "primary"})
	if len(nps) == 0 {
		t.Fatalf("no NetworkPolicy selects the pods of Cluster %s", cluster)
	}
	for _, svc := range set.Services {
		usesDB := false
		for _, c := range svc.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				usesDB = usesDB || e.Name == "DATABASE_URL"
			}
		}
		if got := allowsFrom(t, nps, podLabels(svc), "", 5432); got != usesDB {
			t.Errorf("Service %s (DATABASE_URL: %v) reaches PostgreSQL: %v", svc.Name, usesDB, got)
		}
	}
	if allowsFrom(t, nps, nil, "knative-eventing", 5432) || allowsFrom(t, nps, nil, "default", 5432) {
		t.Error("another namespace reaches PostgreSQL")
	}
}
