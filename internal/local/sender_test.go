package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/eventing/pkg/eventingtls"
	"knative.dev/eventing/pkg/kncloudevents"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/ptr"
)

// retryConfig is Knative's retry configuration of a delivery spec with retries and linear
// back-off of delay (ISO 8601, "PT0S" for none).
func retryConfig(t testing.TB, retries int32, delay string) *kncloudevents.RetryConfig {
	t.Helper()
	linear := eventingduckv1.BackoffPolicyLinear
	retry, err := kncloudevents.RetryConfigFromDeliverySpec(eventingduckv1.DeliverySpec{
		Retry: ptr.Int32(retries), BackoffPolicy: &linear, BackoffDelay: ptr.String(delay)})
	if err != nil {
		t.Fatal(err)
	}
	return &retry
}

// answering is a subscriber answering the n-th request (from 0) with statuses[n], or the last
// status once they run out; it counts the requests.
func answering(t *testing.T, statuses ...int) (*apis.URL, *atomic.Int32) {
	t.Helper()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(requests.Add(1)) - 1
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(statuses[min(n, len(statuses)-1)])
		io.WriteString(w, "answer "+http.StatusText(statuses[min(n, len(statuses)-1)]))
	}))
	t.Cleanup(srv.Close)
	u, err := apis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u, &requests
}

func TestEventSenderPostsTheEventInBinaryModeAndReturnsTheAnswer(t *testing.T) {
	e := testEvent(t, "INVENTORY_RESERVED", "order-1", 7)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		case r.Header.Get("Ce-Id") != e.ID(): // binary mode: the attributes are headers
			http.Error(w, "not binary mode", http.StatusBadRequest)
		case r.Header.Get("Authorization") != "Bearer token-1":
			http.Error(w, "no token", http.StatusUnauthorized)
		case got.Type() != e.Type() || got.Subject() != e.Subject() || !bytes.Equal(got.Data(), e.Data()):
			http.Error(w, "not the event sent", http.StatusBadRequest)
		default:
			w.Header().Set("Ce-Id", "reply-1")
			w.Header().Set("Ce-Type", "PAYMENT_REQUESTED")
			w.Header().Set("Ce-Source", "/test")
			w.Header().Set("Ce-Specversion", "1.0")
			w.Header().Set("Content-Type", cloudevents.ApplicationJSON)
			io.WriteString(w, `{"reply":true}`)
		}
	}))
	defer srv.Close()
	target, _ := apis.ParseURL(srv.URL)

	info, err := sharedSender().send(context.Background(), e, target, retryConfig(t, 0, "PT0S"), http.Header{"Authorization": {"Bearer token-1"}})
	if err != nil {
		t.Fatalf("send: %v (status %d, body %q)", err, info.ResponseCode, info.ResponseBody)
	}
	if info.ResponseCode != http.StatusOK || info.ResponseHeader.Get("Ce-Type") != "PAYMENT_REQUESTED" || string(info.ResponseBody) != `{"reply":true}` {
		t.Errorf("answer = %d %v %q, want 200 with the reply event", info.ResponseCode, info.ResponseHeader, info.ResponseBody)
	}
}

func TestEventSenderRetriesAsKnativesPolicySays(t *testing.T) {
	for _, tc := range []struct {
		name         string
		statuses     []int
		retries      int32
		wantRequests int32
		wantStatus   int
		wantErr      bool
	}{
		{"5xx is retried until it is taken", []int{503, 500, 202}, 2, 3, 202, false},
		{"404 is retried (a function becoming ready)", []int{404, 200}, 2, 2, 200, false},
		{"429 is retried", []int{429, 200}, 2, 2, 200, false},
		{"retries run out on the last answer", []int{503}, 2, 3, 503, true},
		{"400 is never retried", []int{400, 200}, 5, 1, 400, true},
		{"no retries configured", []int{500, 200}, 0, 1, 500, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, requests := answering(t, tc.statuses...)
			info, err := sharedSender().send(context.Background(), testEvent(t, "T", "k", 1), target, retryConfig(t, tc.retries, "PT0S"), nil)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, errNotAccepted)) {
				t.Errorf("err = %v, want an error %v (errNotAccepted)", err, tc.wantErr)
			}
			if got := requests.Load(); got != tc.wantRequests {
				t.Errorf("%d requests, want %d", got, tc.wantRequests)
			}
			if want := "answer " + http.StatusText(tc.wantStatus); info.ResponseCode != tc.wantStatus || string(info.ResponseBody) != want {
				t.Errorf("reported %d %q, want the last answer %d %q", info.ResponseCode, info.ResponseBody, tc.wantStatus, want)
			}
		})
	}
}

func TestEventSenderReportsNoAnswerAs500(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target, _ := apis.ParseURL("http://" + l.Addr().String() + "/")
	l.Close() // nothing listens there now: connections are refused

	info, err := sharedSender().send(context.Background(), testEvent(t, "T", "k", 1), target, retryConfig(t, 1, "PT0S"), nil)
	if err == nil || errors.Is(err, errNotAccepted) {
		t.Fatalf("err = %v, want the connection's error", err)
	}
	if info.ResponseCode != http.StatusInternalServerError || !strings.HasPrefix(string(info.ResponseBody), "dispatch error: ") {
		t.Errorf("reported %d %q, want 500 and the error, as Knative's dispatcher reports it", info.ResponseCode, info.ResponseBody)
	}
}

func TestEventSenderCutsEachAttemptAtTheRequestTimeout(t *testing.T) {
	var requests atomic.Int32
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		io.Copy(io.Discard, r.Body)
		select { // never answers; the sender must give up
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer srv.Close()
	defer close(stop) // before Close, which waits for the handlers
	target, _ := apis.ParseURL(srv.URL)
	retry := retryConfig(t, 1, "PT0S")
	retry.RequestTimeout = 50 * time.Millisecond

	info, err := sharedSender().send(context.Background(), testEvent(t, "T", "k", 1), target, retry, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the request timeout", err)
	}
	if got := requests.Load(); got != 2 {
		t.Errorf("%d requests, want 2 (the first and one retry)", got)
	}
	if info.ResponseCode != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", info.ResponseCode)
	}
}

func TestEventSenderStopsWaitingOutItsBackoffWhenCtxEnds(t *testing.T) {
	target, requests := answering(t, http.StatusServiceUnavailable)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := sharedSender().send(ctx, testEvent(t, "T", "k", 1), target, retryConfig(t, 3, "PT1H"), nil)
		done <- err
	}()
	for requests.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel() // the first retry is an hour away (linear back-off: 0, 1 h, ...) after the second
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if got := requests.Load(); got > 2 {
		t.Errorf("%d requests, want at most 2 before the hour-long back-off", got)
	}
}

// BenchmarkEventSender is one delivery and its answer, client and subscriber in this process,
// with eventSender and, for comparison, Knative's kncloudevents.Dispatcher, which the stack used
// before (docs/ARCHITECTURE.md, Measured).
func BenchmarkEventSender(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		for k, v := range map[string]string{"Ce-Id": "r", "Ce-Type": "T", "Ce-Source": "/s", "Ce-Specversion": "1.0"} {
			w.Header().Set(k, v)
		}
		w.Write(bytes.Repeat([]byte("a"), 300))
	}))
	defer srv.Close()
	target, _ := apis.ParseURL(srv.URL)
	e := cloudevents.NewEvent()
	e.SetID("id-1")
	e.SetType("ORDER_REQUESTED")
	e.SetSource("/order")
	e.SetSubject("order-1")
	if err := e.SetData(cloudevents.ApplicationJSON, map[string]string{"items": strings.Repeat("b", 400)}); err != nil {
		b.Fatal(err)
	}
	retry := retryConfig(b, 15, "PT2S")
	header := http.Header{"Authorization": {"Bearer " + strings.Repeat("t", 300)}}
	ctx := context.Background()

	b.Run("eventSender", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if info, err := sharedSender().send(ctx, e, target, retry, header); err != nil || info.ResponseCode != 200 {
				b.Fatal(err)
			}
		}
	})
	b.Run("kncloudevents.Dispatcher", func(b *testing.B) {
		kncloudevents.ConfigureConnectionArgs(&kncloudevents.ConnectionArgs{MaxIdleConns: 1000, MaxIdleConnsPerHost: 200})
		d := kncloudevents.NewDispatcher(eventingtls.ClientConfig{}, nil)
		b.ReportAllocs()
		for b.Loop() {
			info, err := d.SendEvent(ctx, e, duckv1.Addressable{URL: target}, kncloudevents.WithRetryConfig(retry), kncloudevents.WithHeader(header))
			if err != nil || info.ResponseCode != 200 {
				b.Fatal(err)
			}
		}
	})
}
