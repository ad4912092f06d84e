package manifests

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	autoscalingv1alpha1 "knative.dev/serving/pkg/apis/autoscaling/v1alpha1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	asconfig "knative.dev/serving/pkg/autoscaler/config"
	"knative.dev/serving/pkg/autoscaler/config/autoscalerconfig"
	"knative.dev/serving/pkg/autoscaler/scaling"
	"knative.dev/serving/pkg/reconciler/autoscaling/kpa/resources"
)

// Autoscaling is how Knative scales one Service: Knative's own decider spec, made by Knative's own code
// from the Service's autoscaling annotations (min-scale, max-scale, target, metric, window,
// scale-down-delay, ...) over Knative's defaults (stable window 60 s, panic window 10 %, panic
// threshold 200 %, target utilization 70 %), plus what the KPA reconciler applies around the
// decider: the bounds and the way to zero.
type Autoscaling struct {
	Decider scaling.DeciderSpec
	// Min and Max bound the instances; Max 0 is unbounded.
	Min, Max int32
	// PanicWindow is the short window the decider's panic value averages over.
	PanicWindow time.Duration
	// ScaleToZeroGrace is how long the last instance stays once the decider wants none;
	// ZeroRetention (scale-to-zero-pod-retention-period) lengthens it for one Service.
	ScaleToZeroGrace, ZeroRetention time.Duration
	// ContainerConcurrency is the most requests one instance takes at once (0: no limit).
	ContainerConcurrency int64
}

// KnativeAutoscalerDefaults is Knative's config-autoscaler with nothing set: the cluster's defaults.
func KnativeAutoscalerDefaults() (*autoscalerconfig.Config, error) {
	return asconfig.NewConfigFromMap(map[string]string{})
}

// ServiceAutoscaling reads svc's autoscaling annotations as Knative's autoscaler would, into a spec.
// An annotation Knative would refuse is an error here too (the manifest tests run Knative's
// validation; this only re-reads what it accepted).
func ServiceAutoscaling(svc *servingv1.Service, defaults *autoscalerconfig.Config) (Autoscaling, error) {
	var cc int64
	if c := svc.Spec.Template.Spec.ContainerConcurrency; c != nil {
		cc = *c
	}
	// The PodAutoscaler Knative makes for the Service's revision: the template's annotations and
	// its containerConcurrency.
	pa := &autoscalingv1alpha1.PodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name, Annotations: svc.Spec.Template.Annotations},
		Spec: autoscalingv1alpha1.PodAutoscalerSpec{
			ContainerConcurrency: cc,
			Reachability:         autoscalingv1alpha1.ReachabilityReachable,
		},
	}
	decider := resources.MakeDecider(pa, defaults)
	if decider.Spec.TargetValue <= 0 {
		return Autoscaling{}, fmt.Errorf("service %s: autoscaling target must be positive", svc.Name)
	}
	minScale, maxScale := pa.ScaleBounds(defaults)
	panicPercent := defaults.PanicWindowPercentage
	if p, ok := pa.PanicWindowPercentage(); ok {
		panicPercent = p
	}
	retention := defaults.ScaleToZeroPodRetentionPeriod
	if r, ok := pa.ScaleToZeroPodRetention(); ok {
		retention = r
	}
	spec := Autoscaling{
		Decider:              decider.Spec,
		Min:                  minScale,
		Max:                  maxScale,
		PanicWindow:          time.Duration(float64(decider.Spec.StableWindow) * panicPercent / 100),
		ScaleToZeroGrace:     defaults.ScaleToZeroGracePeriod,
		ZeroRetention:        retention,
		ContainerConcurrency: cc,
	}
	if spec.Max > 0 && spec.Min > spec.Max {
		return Autoscaling{}, fmt.Errorf("service %s: min-scale %d above max-scale %d", svc.Name, spec.Min, spec.Max)
	}
	return spec, nil
}

// ToZeroAfter is how long the last instance stays once the decider wants none.
func (s Autoscaling) ToZeroAfter() time.Duration {
	return max(s.ScaleToZeroGrace, s.ZeroRetention)
}
