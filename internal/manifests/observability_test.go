package manifests_test

import (
	"strconv"
	"testing"

	"github.com/ordersaga/ordersaga/internal/telemetry"
)

// Prometheus can scrape every function: its template asks for it (prometheus.io/*) on the port
// the container serves, and a NetworkPolicy lets the monitoring namespace in on that port. The
// gateway, whose port is the public one, serves no metrics and asks for no scrape.
func TestPrometheusScrapesEveryFunction(t *testing.T) {
	set := load(t)
	for _, svc := range set.Services {
		a := svc.Spec.Template.Annotations
		if svc.Name == "gateway" {
			if a["prometheus.io/scrape"] != "" {
				t.Errorf("the gateway asks to be scraped; it serves no metrics")
			}
			continue
		}
		if a["prometheus.io/scrape"] != "true" || a["prometheus.io/path"] != "/metrics" {
			t.Errorf("Service %s: prometheus.io/scrape %q, path %q; want true and /metrics", svc.Name, a["prometheus.io/scrape"], a["prometheus.io/path"])
			continue
		}
		port, err := strconv.Atoi(a["prometheus.io/port"])
		if err != nil {
			t.Errorf("Service %s: prometheus.io/port %q is not a port", svc.Name, a["prometheus.io/port"])
			continue
		}
		served := false
		for _, c := range svc.Spec.Template.Spec.Containers {
			for _, p := range c.Ports {
				served = served || int(p.ContainerPort) == port
			}
		}
		if !served {
			t.Errorf("Service %s: prometheus.io/port %d is not its container's port", svc.Name, port)
		}
		if !allowsFrom(t, selecting(t, set, svc.Namespace, podLabels(svc)), nil, "monitoring", int32(port)) {
			t.Errorf("Service %s: no NetworkPolicy lets the monitoring namespace scrape port %d", svc.Name, port)
		}
	}
}

// Every Service takes the collector's address from ordersaga-config, and what the ConfigMap says
// is a configuration the functions accept (telemetry.ExportConfigFromEnv): OTLP over HTTP in
// JSON to an http(s) URL.
func TestEveryServiceExportsTracesAsConfigured(t *testing.T) {
	set := load(t)
	var data map[string]string
	for _, cm := range set.ConfigMaps {
		if cm.Namespace == namespace && cm.Name == "ordersaga-config" {
			data = cm.Data
		}
	}
	cfg, ok, err := telemetry.ExportConfigFromEnv(func(k string) string { return data[k] })
	if err != nil || !ok {
		t.Fatalf("ordersaga-config's OTEL_* do not make a trace exporter: ok %v, %v", ok, err)
	}
	t.Logf("spans go to %s", cfg.Endpoint)
	for _, svc := range set.Services {
		want := map[string]bool{"OTEL_EXPORTER_OTLP_ENDPOINT": true, "OTEL_EXPORTER_OTLP_PROTOCOL": true}
		for _, c := range svc.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if want[e.Name] && e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil &&
					e.ValueFrom.ConfigMapKeyRef.Name == "ordersaga-config" && e.ValueFrom.ConfigMapKeyRef.Key == e.Name {
					delete(want, e.Name)
				}
			}
		}
		for name := range want {
			t.Errorf("Service %s: no %s from ordersaga-config", svc.Name, name)
		}
	}
}
