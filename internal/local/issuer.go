package local

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/ordersaga/ordersaga/internal/eventauth"
	"github.com/ordersaga/ordersaga/internal/manifests"
)

// The local stack is its own token issuer, as a cluster's service-account issuer is: a key made
// at start and kept in memory only (every process is restarted with the stack, so no token
// outlives it), its discovery document and key set served on a loopback port, and the functions
// told where by EVENT_AUTH_ISSUER. Who may send to whom is read from config/'s EventPolicies.

// senderTokenTTL is a sender token's lifetime. A dispatcher reuses a token until a third of it is
// left, and one delivery (16 attempts, 3.5 minutes of back-off plus timeouts) fits in that third.
const senderTokenTTL = 30 * time.Minute

// tokenFileRefresh is how often the stack rewrites the dead-letter function's token files, as
// the kubelet renews projected service-account tokens well before they expire.
const tokenFileRefresh = senderTokenTTL / 3

// Kinds that receive events, for their audiences.
var (
	gvkService = servingv1.SchemeGroupVersion.WithKind("Service")
	gvkBroker  = eventingv1.SchemeGroupVersion.WithKind("Broker")
	gvkTrigger = eventingv1.SchemeGroupVersion.WithKind("Trigger")
)

// startIssuer makes the stack's signing key and serves its discovery document and key set.
func (s *Stack) startIssuer(ctx context.Context) (*eventauth.Issuer, error) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	l, url, err := listen("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	issuer, err := eventauth.NewIssuer(url, key)
	if err != nil {
		_ = l.Close()
		return nil, err
	}
	s.serveOn(ctx, l, issuer.Handler())
	return issuer, nil
}

// receiverAuth is the sender check a receiver gets: its audience and the senders its
// EventPolicies allow. Errors: no EventPolicy applies to it (the stack does not guess who may
// send), or one it cannot resolve.
func receiverAuth(set *manifests.Set, gvk schema.GroupVersionKind, namespace, name string) (audience string, senders []string, err error) {
	senders, ok, err := set.Senders(gvk, namespace, name)
	if err != nil {
		return "", nil, err
	}
	if !ok || len(senders) == 0 {
		return "", nil, fmt.Errorf("%s %s/%s receives events but no EventPolicy names its senders", gvk.Kind, namespace, name)
	}
	return manifests.Audience(gvk, namespace, name), senders, nil
}

// receiverEnv is a function's sender check as the environment the runtime reads (eventauth.Config).
func receiverEnv(issuer *eventauth.Issuer, audience string, senders []string) []string {
	return []string{"EVENT_AUTH=on", "EVENT_AUTH_ISSUER=" + issuer.URL(), "EVENT_AUTH_AUDIENCE=" + audience,
		"EVENT_AUTH_SENDERS=" + strings.Join(senders, ",")}
}

// destinationAudience is the audience of a Trigger's destination: its own `audience` when set
// (Knative's Destination field), else that of the Service or Broker it names.
func destinationAudience(d duckv1.Destination, broker *eventingv1.Broker) string {
	switch {
	case d.Audience != nil:
		return *d.Audience
	case d.Ref != nil && d.Ref.Kind == "Service":
		ns := d.Ref.Namespace
		if ns == "" {
			ns = broker.Namespace
		}
		return manifests.Audience(gvkService, ns, d.Ref.Name)
	case d.Ref != nil && d.Ref.Kind == "Broker":
		return manifests.Audience(gvkBroker, broker.Namespace, broker.Name)
	}
	return ""
}

// serviceIdentity is the subject of a Knative Service's pods' tokens: its service account.
func serviceIdentity(svc *servingv1.Service) string {
	sa := svc.Spec.Template.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	return eventauth.ServiceAccount(svc.Namespace, sa)
}

// tokenFiles keeps one sender's tokens in files, one per target, as projected service-account
// token volumes on a cluster: written at once (0600, in a 0700 folder) and rewritten every
// tokenFileRefresh until ctx ends. audiences maps each target URL prefix to its audience; the
// result is the EVENT_AUTH_TOKEN_FILES value (target prefix to file).
func tokenFiles(ctx context.Context, s *Stack, issuer *eventauth.Issuer, dir, subject string, audiences map[string]string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	files := map[string]string{}
	paths := map[string]string{} // audience → file
	for prefix, aud := range audiences {
		if _, ok := paths[aud]; !ok {
			paths[aud] = filepath.Join(dir, fmt.Sprintf("token-%d", len(paths)))
		}
		files[prefix] = paths[aud]
	}
	write := func() error {
		for aud, path := range paths {
			token, _, err := issuer.Token(subject, aud, senderTokenTTL)
			if err != nil {
				return err
			}
			// Written beside and renamed over: a reader never sees half a token.
			if err := os.WriteFile(path+".new", []byte(token), 0o600); err != nil {
				return err
			}
			if err := os.Rename(path+".new", path); err != nil {
				return err
			}
		}
		return nil
	}
	if err := write(); err != nil {
		return "", err
	}
	s.run(ctx, "token files "+subject, func(ctx context.Context) error {
		tick := time.NewTicker(tokenFileRefresh)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
				if err := write(); err != nil {
					slog.Error("token files", "subject", subject, "err", err)
				}
			}
		}
	})
	value, err := json.Marshal(files)
	return string(value), err
}

// receivers is who verifies senders: the Broker and every Service a Trigger delivers to
// (subscriber or dead-letter sink), each with its audience and the senders its EventPolicies
// allow, and which of those Services are dead-letter sinks (they send too: redeliveries).
type receivers struct {
	brokerAudience string
	brokerSenders  []string
	services       map[string]receiver // by Service name
	sinks          []string
}

type receiver struct {
	audience string
	senders  []string
}

// senderPolicies resolves config/'s EventPolicies for every receiver, before anything starts.
// Errors: a receiver no EventPolicy covers (the stack does not guess who may send).
func senderPolicies(set *manifests.Set, broker *eventingv1.Broker) (*receivers, error) {
	r := &receivers{services: map[string]receiver{}}
	var err error
	if r.brokerAudience, r.brokerSenders, err = receiverAuth(set, gvkBroker, broker.Namespace, broker.Name); err != nil {
		return nil, err
	}
	names, sinks := map[string]bool{}, map[string]bool{}
	addService := func(d *duckv1.Destination, into map[string]bool) {
		if d != nil && d.Ref != nil && d.Ref.Kind == "Service" {
			into[d.Ref.Name] = true
		}
	}
	if broker.Spec.Delivery != nil {
		addService(broker.Spec.Delivery.DeadLetterSink, sinks)
	}
	for _, t := range set.Triggers {
		addService(&t.Spec.Subscriber, names)
		if t.Spec.Delivery != nil {
			addService(t.Spec.Delivery.DeadLetterSink, sinks)
		}
	}
	for name := range sinks {
		names[name] = true
		r.sinks = append(r.sinks, name)
	}
	for name := range names {
		aud, senders, err := receiverAuth(set, gvkService, broker.Namespace, name)
		if err != nil {
			return nil, err
		}
		r.services[name] = receiver{audience: aud, senders: senders}
	}
	return r, nil
}

// eventAuthEnv is each function's share of event authentication: every receiving Service
// verifies its senders, and a dead-letter sink, which redelivers and replies, gets its own
// tokens for every receiver (token files).
func (s *Stack) eventAuthEnv(ctx context.Context, cfg Config, set *manifests.Set, broker *eventingv1.Broker,
	r *receivers, issuer *eventauth.Issuer, urls map[string]string) (map[string][]string, error) {
	env := map[string][]string{}
	audiences := map[string]string{s.Ingress + "/": r.brokerAudience} // target URL → audience, for the sinks
	for name, rc := range r.services {
		if _, ok := urls[name]; !ok {
			return nil, fmt.Errorf("service %q receives events but is not a function of this repository", name)
		}
		env[name] = receiverEnv(issuer, rc.audience, rc.senders)
		audiences[urls[name]+"/"] = rc.audience
	}
	for _, name := range r.sinks {
		svc, ok := set.Service(broker.Namespace, name)
		if !ok {
			return nil, fmt.Errorf("dead-letter sink %q is not a Service in config/", name)
		}
		files, err := tokenFiles(ctx, s, issuer, filepath.Join(cfg.DataDir, "tokens", name), serviceIdentity(svc), audiences)
		if err != nil {
			return nil, fmt.Errorf("token files for %s: %w", name, err)
		}
		env[name] = append(env[name], "EVENT_AUTH_TOKEN_FILES="+files)
	}
	return env, nil
}
