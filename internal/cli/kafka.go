package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ordersaga/ordersaga/internal/client"
	"github.com/ordersaga/ordersaga/internal/eventlog"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/kafka"
)

// newReader connects to --kafka as --kafka-user (or the local stack's principal) and finds
// --topic's partitions, explaining a failure in terms of the flags.
func (a *app) newReader(ctx context.Context) (*eventlog.Reader, error) {
	var brokers []string
	for _, b := range strings.Split(a.kafka, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		return nil, usagef("--kafka names no broker")
	}
	cfg, err := a.kafkaAuth.config(brokers)
	if err != nil {
		return nil, err
	}
	r, err := eventlog.Open(ctx, cfg, a.topic)
	switch {
	case err == nil:
		return r, nil
	case errors.Is(err, eventlog.ErrConfig):
		return nil, usagef("--kafka %q: %v", a.kafka, err)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case authError(err, cfg) != nil:
		return nil, authError(err, cfg)
	case errors.Is(err, eventlog.ErrUnreachable):
		return nil, unreachable(a.kafka, cfg)
	case errors.Is(err, eventlog.ErrNoTopic):
		return nil, fmt.Errorf("topic %q does not exist on Kafka at %s: check --topic (the broker's topic is %s by default)", a.topic, a.kafka, DefaultTopic)
	}
	return nil, err
}

// readErr explains an error of reading the topic: a refusal by Kafka in terms of the flags.
func readErr(err error, r *eventlog.Reader) error {
	if err == nil {
		return nil
	}
	if aerr := authError(err, r.Kafka()); aerr != nil {
		return aerr
	}
	return err
}

// eventDetail is the one thing worth showing of an event's data beside its type.
func eventDetail(data []byte) string {
	var d struct {
		Reason        string        `json:"reason"`
		SKU           string        `json:"sku"`
		TrackingID    string        `json:"tracking_id"`
		AmountCents   *int64        `json:"amount_cents"`
		TotalCents    *int64        `json:"total_cents"`
		Items         []events.Line `json:"items"`
		TransactionID string        `json:"transaction_id"`
	}
	if json.Unmarshal(data, &d) != nil {
		return ""
	}
	switch {
	case d.Reason != "" && d.SKU != "":
		return d.Reason + " (" + d.SKU + ")"
	case d.Reason != "":
		return d.Reason
	case d.TrackingID != "":
		return "tracking " + d.TrackingID
	case d.AmountCents != nil:
		return "amount " + money(*d.AmountCents)
	case d.TotalCents != nil:
		return "total " + money(*d.TotalCents)
	case len(d.Items) > 0:
		lines := make([]client.Line, len(d.Items))
		for i, l := range d.Items {
			lines[i] = client.Line(l)
		}
		return linesText(lines)
	}
	return ""
}

// unreachable explains a broker that did not answer. A broker that requires SASL closes the
// connection of a client that does not log in, or fails to (the embedded one does so rather than
// answer an authentication error), so credentials are as likely a cause as a stopped stack.
func unreachable(brokers string, cfg kafka.Config) error {
	if cfg.Mechanism == "" {
		return fmt.Errorf("cannot reach Kafka at %s as an anonymous client: is `make run` running? (or point --kafka / ORDERSCTL_KAFKA at a broker) "+
			"A broker requiring SASL, as the local stack's does, closes the connection: run where its data folder is (for %s), "+
			"or give --kafka-user and ORDERSCTL_KAFKA_PASSWORD", brokers, kafka.CredentialsFile)
	}
	return fmt.Errorf("cannot reach Kafka at %s as %s: is `make run` running? (or point --kafka / ORDERSCTL_KAFKA at a broker) "+
		"Is the password right? A broker closes the connection of a failed login", brokers, cfg.Username)
}
