package local

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"

	"github.com/ordersaga/ordersaga/internal/eventauth"
)

var gvkPingSource = sourcesv1.SchemeGroupVersion.WithKind("PingSource")

// pingSource emulates one PingSource of config/: on its cron schedule, a dev.knative.sources.ping
// CloudEvent carrying its data, sent as the PingSource's own identity to its sink. The sink is
// the function's activator, so a ping wakes a function at zero, as on a cluster; how often it
// pings decides whether the function can stay at zero in between (docs/SCALING.md).
type pingSource struct {
	source   *sourcesv1.PingSource
	sink     string
	audience string
	tokens   *eventauth.Minter
}

func (p *pingSource) Run(ctx context.Context) error {
	spec := p.source.Spec.Schedule
	if tz := p.source.Spec.Timezone; tz != "" {
		spec = "CRON_TZ=" + tz + " " + spec
	}
	schedule, err := cron.ParseStandard(spec)
	if err != nil {
		return fmt.Errorf("schedule %q: %w", p.source.Spec.Schedule, err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for {
		next := schedule.Next(time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(next)):
		}
		if err := p.ping(ctx, client, next); err != nil && ctx.Err() == nil {
			// The adapter does not retry either: the next tick is the retry.
			slog.Warn("pingsource: ping not delivered", "pingsource", p.source.Name, "err", err)
		}
	}
}

// ping sends one event in the binary content mode, as Knative's ping adapter does.
func (p *pingSource) ping(ctx context.Context, client *http.Client, at time.Time) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.sink, strings.NewReader(p.source.Spec.Data))
	if err != nil {
		return err
	}
	contentType := p.source.Spec.ContentType
	if contentType == "" {
		contentType = "application/json"
	}
	for name, value := range map[string]string{
		"Ce-Specversion": "1.0",
		"Ce-Id":          uuid.NewString(),
		"Ce-Source":      sourcesv1.PingSourceSource(p.source.Namespace, p.source.Name),
		"Ce-Type":        sourcesv1.PingSourceEventType,
		"Ce-Time":        at.UTC().Format(time.RFC3339Nano),
		"Content-Type":   contentType,
	} {
		req.Header.Set(name, value)
	}
	token, err := p.tokens.Token(p.audience)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %d", p.sink, resp.StatusCode)
	}
	slog.Info("pingsource: ping delivered", "pingsource", p.source.Name, "sink", p.sink)
	return nil
}
