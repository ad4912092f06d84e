package client

import (
	"context"
	"net/http"
)

// ScalePath is the local stack's scaling status: served on the gateway's address to loopback
// clients only, by the stack itself (a cluster has `kubectl get pods` and Knative's metrics).
const ScalePath = "/admin/scale"

// ScaleStatus is the local stack's scaling, as `ordersctl top` shows it.
type ScaleStatus struct {
	// Scaling is "on" (Knative's autoscaler, scale to zero) or "off" (one instance each).
	Scaling   string          `json:"scaling"`
	Functions []FunctionScale `json:"functions"`
	Triggers  []TriggerLag    `json:"triggers"`
}

// FunctionScale is one function's instances and requests.
type FunctionScale struct {
	Name string `json:"name"`
	// Instances is how many are starting or ready; Ready of them take requests; Draining ones
	// were chosen for removal and finish their requests.
	Instances int `json:"instances"`
	Ready     int `json:"ready"`
	Draining  int `json:"draining"`
	// Desired is the autoscaler's latest decision; Min and Max its bounds (Max 0: none).
	Desired int32 `json:"desired"`
	Min     int32 `json:"min"`
	Max     int32 `json:"max"`
	// Metric is concurrency or rps, Target its value per instance, Stable and Panic what the
	// autoscaler observed over its two windows.
	Metric string  `json:"metric"`
	Target float64 `json:"target"`
	Stable float64 `json:"stable"`
	Panic  float64 `json:"panic"`
	// InFlight counts requests being served or waiting for an instance.
	InFlight      int     `json:"in_flight"`
	Requests      int64   `json:"requests"`
	RequestsPerS  float64 `json:"requests_per_s"`
	P50Millis     float64 `json:"p50_ms"`
	P99Millis     float64 `json:"p99_ms"`
	ColdStarts    int     `json:"cold_starts"`
	LastColdStart float64 `json:"last_cold_start_ms"`
	PeakInstances int     `json:"peak_instances"`
	LastDecision  string  `json:"last_decision,omitempty"`
}

// TriggerLag is how far one Trigger's consumer group is behind the broker topic.
type TriggerLag struct {
	Name       string `json:"name"`
	Subscriber string `json:"subscriber"`
	// Lag is the events on the topic not yet delivered (committed) by the Trigger; -1 when unknown.
	Lag int64 `json:"lag"`
}

// Scale reads the local stack's scaling status.
func (c *Client) Scale(ctx context.Context) (ScaleStatus, error) {
	var s ScaleStatus
	err := c.Do(ctx, http.MethodGet, ScalePath, nil, nil, &s)
	return s, err
}
