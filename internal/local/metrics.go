package local

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// functionMetrics gathers one function process's GET /metrics, each series labelled with the
// function's name: what Prometheus scraping the pods of a cluster would see, in one place.
type functionMetrics struct {
	name     string
	instance string // the instance's name when the function is scaled (several at once), else ""
	url      string // the process's base URL
	client   *http.Client
}

// Gather fetches and parses the function's metrics. Errors: the function does not answer (it
// is restarting), or its answer is not Prometheus' text format.
func (f functionMetrics) Gather() ([]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s metrics: %w", f.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s metrics: %s", f.name, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	byName, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s metrics: %w", f.name, err)
	}
	families := make([]*dto.MetricFamily, 0, len(byName))
	labels := []*dto.LabelPair{{Name: proto.String("function"), Value: proto.String(f.name)}}
	if f.instance != "" {
		labels = append(labels, &dto.LabelPair{Name: proto.String("instance"), Value: proto.String(f.instance)})
	}
	for _, mf := range byName {
		for _, m := range mf.Metric {
			m.Label = append(m.Label, labels...)
		}
		families = append(families, mf)
	}
	sort.Slice(families, func(i, j int) bool { return families[i].GetName() < families[j].GetName() })
	return families, nil
}

// metricsHandler serves every function's metrics (labelled function="<name>", and
// instance="<name>-<n>" for a scaled function's instances) and the data plane's delivery
// metrics in Prometheus' text format. targets is asked at each scrape, since instances come and
// go. A function that does not answer is left out of that scrape, and the error logged, as
// Prometheus does with a target that is down.
func metricsHandler(targets func() []functionMetrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(scrape(targets), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, ErrorLog: metricsErrorLog{}}))
	return mux
}

// scrape gathers the data plane's registry and whatever targets lists at that moment.
type scrape func() []functionMetrics

func (targets scrape) Gather() ([]*dto.MetricFamily, error) {
	gatherers := prometheus.Gatherers{deliveryRegistry}
	for _, t := range targets() {
		gatherers = append(gatherers, t)
	}
	return gatherers.Gather()
}

// scrapeTargets is what a scrape of the stack reads: each function process, or each running
// instance of a scaled function, straight, never through its activator: a scrape must neither
// wake a function at zero nor count as its load (on a cluster, Prometheus scrapes the pods
// there are, and none when a Service is at zero).
func (s *Stack) scrapeTargets() []functionMetrics {
	var targets []functionMetrics
	for name, p := range s.procs {
		targets = append(targets, functionMetrics{name: name, url: p.url(), client: scrapeClient})
	}
	for name, f := range s.scaled {
		f.mu.Lock()
		for _, in := range f.live {
			if in.state.Load() == instanceReady {
				targets = append(targets, functionMetrics{name: name, instance: in.proc.name, url: in.proc.url(), client: scrapeClient})
			}
		}
		f.mu.Unlock()
	}
	return targets
}

var scrapeClient = &http.Client{}

// metricsErrorLog sends promhttp's errors to the stack's log.
type metricsErrorLog struct{}

func (metricsErrorLog) Println(v ...any) { logf("metrics: %s", fmt.Sprint(v...)) }
