package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"knative.dev/eventing/pkg/kncloudevents"
	"knative.dev/pkg/apis"
)

// eventSender is a dispatcher's HTTP leg: it POSTs a CloudEvent in binary mode (the CloudEvents
// SDK's encoding) and retries as the Trigger's delivery spec says, by Knative's own policy
// (kncloudevents.RetryConfig: which answers are retried, the back-off, the timeout of each
// request). What it reports (kncloudevents.DispatchInfo) and when a delivery has failed are
// Knative's.
//
// Why not Knative's kncloudevents.Dispatcher, which sent the stack's events until 2026-12-04:
// its client wraps every request body for metrics (otelhttp), so net/http no longer knows the
// body is in memory and writes the headers and the body in two syscalls, and its retrying client
// (go-retryablehttp) copies the request once more per send. At full load that was a fifth of the
// data plane's CPU (docs/ARCHITECTURE.md, Measured).
type eventSender struct {
	client *http.Client
}

// sharedSender is the stack's one sender, so that all Triggers share its connections to the
// functions, as the dispatchers of Knative's broker share theirs.
var sharedSender = sync.OnceValue(func() *eventSender {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Keep connections to subscribers open for reuse, as Knative's broker data plane does (its
	// MAX_IDLE_CONNS_PER_HOST setting): net/http's default keeps only 2 idle connections per
	// host, so with many events in flight most requests would dial a new one.
	transport.MaxIdleConns, transport.MaxIdleConnsPerHost = 1000, 200
	return &eventSender{client: &http.Client{Transport: transport}}
})

// errNotAccepted is the error of a delivery whose last answer was not a 2xx.
var errNotAccepted = errors.New("unexpected HTTP response, expected 2xx")

// send delivers e to target with header added to each request, retrying as retry says, and
// transformers applied to the event as it is written (the dead letter's error extensions).
//
// It returns the last attempt's status, headers and body and the time all attempts took, and an
// error unless an attempt got a 2xx: errNotAccepted for another status, or why no answer came,
// in which case the status is 500 and the body says why, as with Knative's dispatcher. An error
// of ctx ends the retries at once.
func (s *eventSender) send(ctx context.Context, e cloudevents.Event, target *apis.URL, retry *kncloudevents.RetryConfig,
	header http.Header, transformers ...binding.Transformer) (*kncloudevents.DispatchInfo, error) {
	info := &kncloudevents.DispatchInfo{Duration: kncloudevents.NoDuration, ResponseCode: kncloudevents.NoResponse,
		ResponseHeader: http.Header{}, Scheme: target.Scheme}
	start := time.Now()
	defer func() { info.Duration = time.Since(start) }()
	for attempt := 0; ; attempt++ {
		resp, body, err := s.post(ctx, e, target, retry.RequestTimeout, header, transformers)
		again, checkErr := retry.CheckRetry(ctx, resp, err)
		if checkErr != nil {
			err = checkErr
		}
		if !again || attempt >= retry.RetryMax || checkErr != nil {
			return finish(info, resp, body, err)
		}
		wait := time.NewTimer(retry.Backoff(attempt, resp))
		select {
		case <-ctx.Done():
			wait.Stop()
			return finish(info, nil, nil, ctx.Err())
		case <-wait.C:
		}
	}
}

// post makes one attempt: the event written afresh (a request body can be read only once), sent
// with timeout (none when 0), and the whole answer read. resp's body is closed.
func (s *eventSender) post(ctx context.Context, e cloudevents.Event, target *apis.URL, timeout time.Duration,
	header http.Header, transformers []binding.Transformer) (*http.Response, []byte, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("could not create http request: %w", err)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req, transformers...); err != nil {
		return nil, nil, fmt.Errorf("could not write the event to the request: %w", err)
	}
	for key, values := range header {
		req.Header[key] = values
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the response: %w", err)
	}
	return resp, body, nil
}

// finish fills info from the last attempt as Knative's dispatcher does.
func finish(info *kncloudevents.DispatchInfo, resp *http.Response, body []byte, err error) (*kncloudevents.DispatchInfo, error) {
	if resp == nil || err != nil {
		if err == nil {
			err = errors.New("no response")
		}
		info.ResponseCode = http.StatusInternalServerError
		info.ResponseBody = []byte("dispatch error: " + err.Error())
		return info, err
	}
	info.ResponseCode, info.ResponseHeader, info.ResponseBody = resp.StatusCode, resp.Header, body
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
		return info, fmt.Errorf("%w, got %d", errNotAccepted, resp.StatusCode)
	}
	return info, nil
}
