package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// OTLPJSONExporter sends spans to an OpenTelemetry collector as OTLP/HTTP requests with JSON
// bodies (the protocol "http/json" of the OTLP specification): a few hundred lines instead of
// the SDK's exporters, which bring gRPC and protobuf with them.
type OTLPJSONExporter struct {
	cfg    ExportConfig
	client *http.Client
}

// NewOTLPJSONExporter returns an exporter to cfg.Endpoint.
func NewOTLPJSONExporter(cfg ExportConfig) *OTLPJSONExporter {
	return &OTLPJSONExporter{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}}
}

// ExportSpans POSTs spans in one request. Errors: the request's, or a status other than 2xx
// (the batch span processor logs it and drops the batch: telemetry never holds up the saga).
func (x *OTLPJSONExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	body, err := json.Marshal(encodeSpans(spans))
	if err != nil {
		return fmt.Errorf("otlp: encode spans: %w", err)
	}
	if x.cfg.Gzip {
		var zipped bytes.Buffer
		zw := gzip.NewWriter(&zipped)
		if _, err := zw.Write(body); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		body = zipped.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("otlp: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if x.cfg.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range x.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := x.client.Do(req)
	if err != nil {
		return fmt.Errorf("otlp: export %d spans: %w", len(spans), err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("otlp: export %d spans: %s: %s", len(spans), resp.Status, bytes.TrimSpace(answer))
	}
	return nil
}

// Shutdown has nothing to release: every export is a request of its own.
func (x *OTLPJSONExporter) Shutdown(context.Context) error { return nil }

// The OTLP JSON encoding (opentelemetry-proto's ExportTraceServiceRequest in proto3 JSON, with
// OTLP's exceptions): ids in hex, enums as numbers, 64-bit integers as decimal strings.
type (
	otlpRequest struct {
		ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
	}
	otlpResourceSpans struct {
		Resource   otlpResource     `json:"resource"`
		ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
		SchemaURL  string           `json:"schemaUrl,omitempty"`
	}
	otlpResource struct {
		Attributes []otlpKeyValue `json:"attributes,omitempty"`
	}
	otlpScopeSpans struct {
		Scope     otlpScope  `json:"scope"`
		Spans     []otlpSpan `json:"spans"`
		SchemaURL string     `json:"schemaUrl,omitempty"`
	}
	otlpScope struct {
		Name    string `json:"name,omitempty"`
		Version string `json:"version,omitempty"`
	}
	otlpSpan struct {
		TraceID                string         `json:"traceId"`
		SpanID                 string         `json:"spanId"`
		TraceState             string         `json:"traceState,omitempty"`
		ParentSpanID           string         `json:"parentSpanId,omitempty"`
		Flags                  uint32         `json:"flags,omitempty"`
		Name                   string         `json:"name"`
		Kind                   int            `json:"kind"`
		StartTimeUnixNano      string         `json:"startTimeUnixNano"`
		EndTimeUnixNano        string         `json:"endTimeUnixNano"`
		Attributes             []otlpKeyValue `json:"attributes,omitempty"`
		DroppedAttributesCount int            `json:"droppedAttributesCount,omitempty"`
		Events                 []otlpEvent    `json:"events,omitempty"`
		DroppedEventsCount     int            `json:"droppedEventsCount,omitempty"`
		Links                  []otlpLink     `json:"links,omitempty"`
		DroppedLinksCount      int            `json:"droppedLinksCount,omitempty"`
		Status                 otlpStatus     `json:"status"`
	}
	otlpEvent struct {
		TimeUnixNano string         `json:"timeUnixNano"`
		Name         string         `json:"name"`
		Attributes   []otlpKeyValue `json:"attributes,omitempty"`
	}
	otlpLink struct {
		TraceID    string         `json:"traceId"`
		SpanID     string         `json:"spanId"`
		TraceState string         `json:"traceState,omitempty"`
		Attributes []otlpKeyValue `json:"attributes,omitempty"`
		Flags      uint32         `json:"flags,omitempty"`
	}
	otlpStatus struct {
		Message string `json:"message,omitempty"`
		Code    int    `json:"code,omitempty"`
	}
	otlpKeyValue struct {
		Key   string    `json:"key"`
		Value otlpValue `json:"value"`
	}
	otlpValue struct {
		StringValue *string     `json:"stringValue,omitempty"`
		BoolValue   *bool       `json:"boolValue,omitempty"`
		IntValue    *string     `json:"intValue,omitempty"`
		DoubleValue *float64    `json:"doubleValue,omitempty"`
		ArrayValue  *otlpValues `json:"arrayValue,omitempty"`
	}
	otlpValues struct {
		Values []otlpValue `json:"values"`
	}
)

// OTLP's status codes are not the SDK's numbers: UNSET 0, OK 1, ERROR 2.
var otlpStatusCode = map[codes.Code]int{codes.Unset: 0, codes.Ok: 1, codes.Error: 2}

// encodeSpans groups spans by resource and instrumentation scope, as OTLP nests them.
func encodeSpans(spans []sdktrace.ReadOnlySpan) otlpRequest {
	type scopeKey struct {
		resource attribute.Distinct
		scope    instrumentation.Scope
	}
	var req otlpRequest
	resourceAt := map[attribute.Distinct]int{}
	scopeAt := map[scopeKey]int{}
	for _, s := range spans {
		res := s.Resource()
		if res == nil {
			res = resource.Empty()
		}
		rk := res.Equivalent()
		ri, ok := resourceAt[rk]
		if !ok {
			ri = len(req.ResourceSpans)
			resourceAt[rk] = ri
			req.ResourceSpans = append(req.ResourceSpans, otlpResourceSpans{
				Resource: otlpResource{Attributes: encodeAttributes(res.Attributes())}, SchemaURL: res.SchemaURL()})
		}
		sc := s.InstrumentationScope()
		sk := scopeKey{resource: rk, scope: instrumentation.Scope{Name: sc.Name, Version: sc.Version, SchemaURL: sc.SchemaURL}}
		si, ok := scopeAt[sk]
		rs := &req.ResourceSpans[ri]
		if !ok {
			si = len(rs.ScopeSpans)
			scopeAt[sk] = si
			rs.ScopeSpans = append(rs.ScopeSpans, otlpScopeSpans{Scope: otlpScope{Name: sc.Name, Version: sc.Version}, SchemaURL: sc.SchemaURL})
		}
		rs.ScopeSpans[si].Spans = append(rs.ScopeSpans[si].Spans, encodeSpan(s))
	}
	return req
}

func encodeSpan(s sdktrace.ReadOnlySpan) otlpSpan {
	sc := s.SpanContext()
	out := otlpSpan{
		TraceID:                traceID(sc.TraceID()),
		SpanID:                 spanID(sc.SpanID()),
		TraceState:             sc.TraceState().String(),
		Flags:                  uint32(sc.TraceFlags()),
		Name:                   s.Name(),
		Kind:                   int(s.SpanKind()), // trace.SpanKind uses OTLP's numbers
		StartTimeUnixNano:      unixNano(s.StartTime().UnixNano()),
		EndTimeUnixNano:        unixNano(s.EndTime().UnixNano()),
		Attributes:             encodeAttributes(s.Attributes()),
		DroppedAttributesCount: s.DroppedAttributes(),
		DroppedEventsCount:     s.DroppedEvents(),
		DroppedLinksCount:      s.DroppedLinks(),
		Status:                 otlpStatus{Code: otlpStatusCode[s.Status().Code], Message: s.Status().Description},
	}
	if p := s.Parent(); p.SpanID().IsValid() {
		out.ParentSpanID = spanID(p.SpanID())
	}
	for _, e := range s.Events() {
		out.Events = append(out.Events, otlpEvent{TimeUnixNano: unixNano(e.Time.UnixNano()), Name: e.Name, Attributes: encodeAttributes(e.Attributes)})
	}
	for _, l := range s.Links() {
		out.Links = append(out.Links, otlpLink{TraceID: traceID(l.SpanContext.TraceID()), SpanID: spanID(l.SpanContext.SpanID()),
			TraceState: l.SpanContext.TraceState().String(), Attributes: encodeAttributes(l.Attributes), Flags: uint32(l.SpanContext.TraceFlags())})
	}
	return out
}

func traceID(id trace.TraceID) string { return hex.EncodeToString(id[:]) }
func spanID(id trace.SpanID) string   { return hex.EncodeToString(id[:]) }
func unixNano(ns int64) string        { return strconv.FormatInt(ns, 10) }

func encodeAttributes(attrs []attribute.KeyValue) []otlpKeyValue {
	out := make([]otlpKeyValue, 0, len(attrs))
	for _, kv := range attrs {
		out = append(out, otlpKeyValue{Key: string(kv.Key), Value: encodeValue(kv.Value)})
	}
	return out
}

func encodeValue(v attribute.Value) otlpValue {
	str := func(s string) otlpValue { return otlpValue{StringValue: &s} }
	integer := func(i int64) otlpValue { s := strconv.FormatInt(i, 10); return otlpValue{IntValue: &s} }
	double := func(f float64) otlpValue { return otlpValue{DoubleValue: &f} }
	boolean := func(b bool) otlpValue { return otlpValue{BoolValue: &b} }
	array := func(n int, at func(int) otlpValue) otlpValue {
		vs := make([]otlpValue, n)
		for i := range vs {
			vs[i] = at(i)
		}
		return otlpValue{ArrayValue: &otlpValues{Values: vs}}
	}
	switch v.Type() {
	case attribute.BOOL:
		return boolean(v.AsBool())
	case attribute.INT64:
		return integer(v.AsInt64())
	case attribute.FLOAT64:
		return double(v.AsFloat64())
	case attribute.BOOLSLICE:
		s := v.AsBoolSlice()
		return array(len(s), func(i int) otlpValue { return boolean(s[i]) })
	case attribute.INT64SLICE:
		s := v.AsInt64Slice()
		return array(len(s), func(i int) otlpValue { return integer(s[i]) })
	case attribute.FLOAT64SLICE:
		s := v.AsFloat64Slice()
		return array(len(s), func(i int) otlpValue { return double(s[i]) })
	case attribute.STRINGSLICE:
		s := v.AsStringSlice()
		return array(len(s), func(i int) otlpValue { return str(s[i]) })
	default:
		return str(v.Emit())
	}
}
