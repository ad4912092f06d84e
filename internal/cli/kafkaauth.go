package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ordersaga/ordersaga/internal/kafka"
)

// kafkaAuth is who the event commands are on Kafka: the --kafka-* flags, else the local stack's
// ordersctl principal from its credentials file, else nobody (a broker requiring SASL refuses).
type kafkaAuth struct {
	user, password, mechanism string
	credentials               string
	tls                       bool
	caFile                    string
}

// flags adds the --kafka-* flags, with their environment defaults.
func (k *kafkaAuth) flags(pf *pflag.FlagSet, env Env) {
	pf.StringVar(&k.user, "kafka-user", env.get("ORDERSCTL_KAFKA_USER"), "SASL user on Kafka (env ORDERSCTL_KAFKA_USER; default: the local stack's "+kafka.LocalCLIUser+" from --kafka-credentials)")
	pf.StringVar(&k.password, "kafka-password", "", "SASL password on Kafka; prefer env ORDERSCTL_KAFKA_PASSWORD, a flag shows in the process list")
	pf.StringVar(&k.mechanism, "kafka-sasl-mechanism", envOr(env, "ORDERSCTL_KAFKA_SASL_MECHANISM", kafka.ScramSHA512), "SASL mechanism with --kafka-user: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (env ORDERSCTL_KAFKA_SASL_MECHANISM)")
	pf.StringVar(&k.credentials, "kafka-credentials", envOr(env, "ORDERSCTL_KAFKA_CREDENTIALS", filepath.Join(envOr(env, "ORDERSAGA_DATA", ".data"), kafka.CredentialsFile)),
		"the local stack's Kafka credentials file, read when --kafka-user is not given (env ORDERSCTL_KAFKA_CREDENTIALS)")
	pf.BoolVar(&k.tls, "kafka-tls", env.get("ORDERSCTL_KAFKA_TLS") == "true", "connect to Kafka over TLS (env ORDERSCTL_KAFKA_TLS=true)")
	pf.StringVar(&k.caFile, "kafka-ca-file", env.get("ORDERSCTL_KAFKA_CA_FILE"), "PEM CA certificates for --kafka-tls (env ORDERSCTL_KAFKA_CA_FILE; default: the system's)")
	// Not the flag's default: help would print it. The flag, when given, still wins.
	k.password = env.get("ORDERSCTL_KAFKA_PASSWORD")
}

// config is how the event commands reach brokers. It returns a usage error for a user without
// a password, an unknown mechanism or an unreadable CA file, and a plain one for a credentials
// file that exists but cannot be used.
func (k *kafkaAuth) config(brokers []string) (kafka.Config, error) {
	c := kafka.Config{Brokers: brokers, TLS: k.tls, CAFile: k.caFile}
	switch {
	case k.user != "":
		if k.password == "" {
			return kafka.Config{}, usagef("--kafka-user %s needs a password: set ORDERSCTL_KAFKA_PASSWORD (or --kafka-password)", k.user)
		}
		c.Mechanism, c.Username, c.Password = strings.ToUpper(k.mechanism), k.user, k.password
	case k.credentials != "":
		lc, err := kafka.LocalClient(brokers, k.credentials)
		if err != nil {
			return kafka.Config{}, err
		}
		c.Mechanism, c.Username, c.Password = lc.Mechanism, lc.Username, lc.Password
	}
	if _, err := c.Opts(); err != nil {
		return kafka.Config{}, usageError{err}
	}
	return c, nil
}

// authError explains a refusal by Kafka: failed authentication or a missing ACL. It returns nil
// for any other error.
func authError(err error, c kafka.Config) error {
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke) && (ke == kerr.SaslAuthenticationFailed || ke == kerr.IllegalSaslState || ke == kerr.UnsupportedSaslMechanism):
	case errors.As(err, &ke) && (ke == kerr.TopicAuthorizationFailed || ke == kerr.GroupAuthorizationFailed || ke == kerr.ClusterAuthorizationFailed):
		return fmt.Errorf("Kafka at %s refused %s: %w (the principal lacks an ACL for this)", strings.Join(c.Brokers, ","), who(c), err)
	case strings.Contains(err.Error(), "SASL"):
	default:
		return nil
	}
	return fmt.Errorf("Kafka at %s did not authenticate %s: %w (set --kafka-user and ORDERSCTL_KAFKA_PASSWORD, "+
		"or run where the local stack's data folder is, for its %s)", strings.Join(c.Brokers, ","), who(c), err, kafka.CredentialsFile)
}

func who(c kafka.Config) string {
	if c.Mechanism == "" {
		return "an anonymous client"
	}
	return c.Username
}
