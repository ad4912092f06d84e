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
)

// functionMetrics gathers one function process's GET /metrics, each series labelled with the
// function's name: what Prometheus scraping the pods of a cluster would see, in one place.
type functionMetrics struct {
	name   string
	url    string // the function's base URL
	client *http.Client
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
	label, name := "function", f.name
	for _, mf := range byName {
		for _, m := range mf.Metric {
			m.Label = append(m.Label, &dto.LabelPair{Name: &label, Value: &name})
		}
		families = append(families, mf)
	}
	sort.Slice(families, func(i, j int) bool { return families[i].GetName() < families[j].GetName() })
	return families, nil
}

// metricsHandler serves every function's metrics (labelled function="<name>") and the data
// plane's delivery metrics in Prometheus' text format. A function that does not answer is left
// out of that scrape, and the error logged, as Prometheus does with a target that is down.
func metricsHandler(urls map[string]string) http.Handler {
	gatherers := prometheus.Gatherers{deliveryRegistry}
	client := &http.Client{}
	for name, url := range urls {
		gatherers = append(gatherers, functionMetrics{name: name, url: url, client: client})
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, ErrorLog: metricsErrorLog{}}))
	return mux
}

// metricsErrorLog sends promhttp's errors to the stack's log.
type metricsErrorLog struct{}

func (metricsErrorLog) Println(v ...any) { logf("metrics: %s", fmt.Sprint(v...)) }
