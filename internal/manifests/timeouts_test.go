package manifests_test

import (
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// The servers' WriteTimeout (httpapi.NewServer) must not cut a request the platform allows: no
// Service may let a request run longer than httpapi.LongestRequest.
func TestNoServiceOutlastsTheServersWriteTimeout(t *testing.T) {
	for _, svc := range load(t).Services {
		s := svc.Spec.Template.Spec.TimeoutSeconds
		if s == nil {
			t.Errorf("Service %s has no timeoutSeconds (Knative's default is 300 s, or more when configured)", svc.Name)
			continue
		}
		if d := time.Duration(*s) * time.Second; d > httpapi.LongestRequest {
			t.Errorf("Service %s allows %v per request, more than httpapi.LongestRequest (%v)", svc.Name, d, httpapi.LongestRequest)
		}
	}
}
