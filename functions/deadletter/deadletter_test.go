package deadletter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/ordersaga/ordersaga/internal/function"
)

func TestHandleLogsOneJSONLine(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	e := cloudevents.NewEvent()
	e.SetID("ev-1")
	e.SetSource("ordersaga/order")
	e.SetType("ORDER_ACCEPTED")
	e.SetSubject("order-1")
	e.SetExtension("partitionkey", "order-1")
	e.SetExtension(ExtErrorCode, "400")
	e.SetExtension(ExtErrorData, base64.StdEncoding.EncodeToString([]byte("invalid event: bad")))
	e.SetExtension(ExtErrorDest, "http://shipping.ordersaga.svc.cluster.local")

	reply, err := New().Handle(context.Background(), e)
	if reply != nil || err != nil {
		t.Fatalf("Handle = %v, %v; want nil, nil", reply, err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1: %q", len(lines), buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, lines[0])
	}
	want := map[string]string{
		"msg": "dead letter", "type": "ORDER_ACCEPTED", "id": "ev-1", "subject": "order-1",
		"partitionkey": "order-1", ExtErrorCode: "400", ExtErrorData: "invalid event: bad",
		ExtErrorDest: "http://shipping.ordersaga.svc.cluster.local",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %q", k, got[k], v)
		}
	}
}

func TestServedAcceptsAnyEvent(t *testing.T) {
	h := function.NewHandler(New())
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", "x")
	req.Header.Set("Ce-Source", "test")
	req.Header.Set("Ce-Type", "SOMETHING_ELSE")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %s", rec.Code, rec.Body)
	}
	for _, path := range []string{"/health/readiness", "/health/liveness"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: status %d", path, rec.Code)
		}
	}
}
