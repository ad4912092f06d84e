package deadletter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/ordersaga/ordersaga/internal/eventauth"
)

// healthTimeout bounds a destination's readiness check.
const healthTimeout = 5 * time.Second

// courier redelivers events as a Trigger's dispatcher does: binary-mode HTTP POST to the
// subscriber, and its reply, if any, on to the broker. Each POST carries the function's own
// sender token for its target (tokens), as receivers authenticate every delivery.
type courier struct {
	client  *http.Client
	sink    string
	timeout time.Duration
	tokens  eventauth.TokenFiles
}

func newCourier(sink string, timeout time.Duration, tokens eventauth.TokenFiles) *courier {
	return &courier{client: &http.Client{}, sink: sink, timeout: timeout, tokens: tokens}
}

// delivery is how one redelivery went.
type delivery struct {
	// answered: the subscriber answered with code and body. Not answered (a connection error,
	// a timeout) is code 0.
	answered bool
	code     int
	body     string
	// err is why it failed (nil: delivered, and the reply, if any, reached the broker).
	err error
	// hopeless: it was not sent and never can be as it is (no allowed destination, a stored
	// event that does not decode).
	hopeless bool
}

// deliver posts e to destination and forwards the reply to the broker. The knativeerror*
// extensions are the sink's, not the subscriber's, so they are not sent.
func (c *courier) deliver(ctx context.Context, e cloudevents.Event, destination string) delivery {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	e = e.Clone()
	for _, ext := range []string{ExtErrorCode, ExtErrorData, ExtErrorDest} {
		_ = e.Context.SetExtension(ext, nil) // nil removes it; the names are valid
	}
	resp, err := c.post(ctx, destination, e)
	if err != nil {
		return delivery{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorData))
		return delivery{answered: true, code: resp.StatusCode, body: text(string(body)),
			err: fmt.Errorf("the subscriber answered HTTP %d", resp.StatusCode)}
	}
	d := delivery{answered: true, code: resp.StatusCode}
	reply, err := binding.ToEvent(ctx, cehttp.NewMessageFromHttpResponse(resp))
	if errors.Is(err, binding.ErrUnknownEncoding) {
		return d // no reply event
	}
	if err != nil {
		d.err = fmt.Errorf("the subscriber's reply is not a CloudEvent: %w", err)
		return d
	}
	if err := c.send(ctx, *reply); err != nil {
		d.err = fmt.Errorf("reply %s not sent to the broker: %w", reply.ID(), err)
	}
	return d
}

// send publishes e to the broker. Errors: the request's, or the broker's status.
func (c *courier) send(ctx context.Context, e cloudevents.Event) error {
	resp, err := c.post(ctx, c.sink, e)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorData))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("broker answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// post sends e to target in binary mode, with the token for target when tokens are
// configured. Errors: the request's, or no token for target (which is not sent at all).
func (c *courier) post(ctx context.Context, target string, e cloudevents.Event) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
	if err != nil {
		return nil, err
	}
	if c.tokens != nil {
		token, err := c.tokens.For(target)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
		return nil, err
	}
	return c.client.Do(req)
}

// healthy asks destination's origin for its readiness (GET /health/readiness, 200), as every
// function serves it. Errors: why it is not ready.
func (c *courier) healthy(ctx context.Context, destination string) error {
	u, err := url.Parse(destination)
	if err != nil || u.Host == "" {
		return fmt.Errorf("destination %q is not a URL", destination)
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	probe := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/health/readiness"}).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, probe, nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered HTTP %d", strings.TrimSuffix(probe, "/health/readiness"), resp.StatusCode)
	}
	return nil
}
