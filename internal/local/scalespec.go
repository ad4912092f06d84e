package local

import (
	"time"

	"github.com/ordersaga/ordersaga/internal/manifests"
)

// scaleSpec is how one function scales: its Service's autoscaling annotations over Knative's
// defaults, read by Knative's own code (manifests.ServiceAutoscaling).
type scaleSpec = manifests.Autoscaling

// withOverrides applies the stack's scaling overrides (tests and demos shorten the windows).
func withOverrides(s scaleSpec, o ScalingConfig) scaleSpec {
	if o.StableWindow > 0 {
		percent := float64(s.PanicWindow) / float64(s.Decider.StableWindow)
		s.Decider.StableWindow = o.StableWindow
		s.PanicWindow = time.Duration(float64(o.StableWindow) * percent)
	}
	if o.ScaleToZeroGrace > 0 {
		s.ScaleToZeroGrace = o.ScaleToZeroGrace
	}
	if o.Target > 0 {
		s.Decider.TargetValue = o.Target
		s.Decider.TotalValue = o.Target / 0.7 // keeps Knative's default utilization
	}
	return s
}
