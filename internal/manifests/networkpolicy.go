package manifests

import (
	"errors"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// validateNetworkPolicy checks what the API server's validation of a NetworkPolicy checks and
// a mistake here would hide (k8s.io/kubernetes, which holds that code, is not a dependency):
// selectors that parse, known policy types and protocols, ports in range, one kind of peer per
// entry and CIDRs that parse. A selector that silently matched nothing would leave a pod denied.
func validateNetworkPolicy(np *networkingv1.NetworkPolicy) error {
	var errs []error
	selector := func(field string, s *metav1.LabelSelector) {
		if s == nil {
			return
		}
		if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
		}
	}
	selector("spec.podSelector", &np.Spec.PodSelector)
	for _, t := range np.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, fmt.Errorf("spec.policyTypes: unknown %q", t))
		}
	}
	peers := func(field string, ps []networkingv1.NetworkPolicyPeer) {
		for i, p := range ps {
			f := fmt.Sprintf("%s[%d]", field, i)
			selector(f+".podSelector", p.PodSelector)
			selector(f+".namespaceSelector", p.NamespaceSelector)
			switch {
			case p.IPBlock != nil && (p.PodSelector != nil || p.NamespaceSelector != nil):
				errs = append(errs, fmt.Errorf("%s: ipBlock cannot be combined with selectors", f))
			case p.IPBlock == nil && p.PodSelector == nil && p.NamespaceSelector == nil:
				errs = append(errs, fmt.Errorf("%s: names no peer", f))
			case p.IPBlock != nil:
				if _, _, err := net.ParseCIDR(p.IPBlock.CIDR); err != nil {
					errs = append(errs, fmt.Errorf("%s.ipBlock.cidr: %w", f, err))
				}
				for _, ex := range p.IPBlock.Except {
					if _, _, err := net.ParseCIDR(ex); err != nil {
						errs = append(errs, fmt.Errorf("%s.ipBlock.except: %w", f, err))
					}
				}
			}
		}
	}
	ports := func(field string, ps []networkingv1.NetworkPolicyPort) {
		for i, p := range ps {
			f := fmt.Sprintf("%s[%d]", field, i)
			if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP && *p.Protocol != corev1.ProtocolUDP && *p.Protocol != corev1.ProtocolSCTP {
				errs = append(errs, fmt.Errorf("%s.protocol: unknown %q", f, *p.Protocol))
			}
			if p.Port == nil {
				continue
			}
			if p.Port.StrVal != "" {
				for _, msg := range validation.IsValidPortName(p.Port.StrVal) {
					errs = append(errs, fmt.Errorf("%s.port: %s", f, msg))
				}
				continue
			}
			for _, msg := range validation.IsValidPortNum(int(p.Port.IntVal)) {
				errs = append(errs, fmt.Errorf("%s.port: %s", f, msg))
			}
			if p.EndPort != nil && *p.EndPort < p.Port.IntVal {
				errs = append(errs, fmt.Errorf("%s.endPort is below port", f))
			}
		}
	}
	for i, r := range np.Spec.Ingress {
		peers(fmt.Sprintf("spec.ingress[%d].from", i), r.From)
		ports(fmt.Sprintf("spec.ingress[%d].ports", i), r.Ports)
	}
	for i, r := range np.Spec.Egress {
		peers(fmt.Sprintf("spec.egress[%d].to", i), r.To)
		ports(fmt.Sprintf("spec.egress[%d].ports", i), r.Ports)
	}
	return errors.Join(errs...)
}
