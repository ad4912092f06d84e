package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// The SASL mechanisms a Config can use. SCRAM is what the project's principals use (the embedded
// broker locally, Strimzi's KafkaUsers on a cluster); PLAIN is only for the local stack's own
// provisioning connection (see internal/local) and external brokers that want it over TLS.
const (
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
	Plain       = "PLAIN"
)

// Config is how a client reaches Kafka and who it is there. Every Kafka client of the project
// (the outbox producer, the local data plane, the CLI, the load test, tests) builds its franz-go
// options from one, so none can forget the credentials. The envconfig tags are relative: a
// function embeds it as `Kafka kafka.Config envconfig:"KAFKA"` and reads KAFKA_BROKERS,
// KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_TLS, KAFKA_TLS_CA_FILE.
type Config struct {
	// Brokers are the bootstrap brokers (host:port; comma-separated in the environment).
	Brokers []string `envconfig:"BROKERS"`
	// Mechanism is ScramSHA256, ScramSHA512 or Plain; empty means no SASL (anonymous).
	Mechanism string `envconfig:"SASL_MECHANISM"`
	Username  string `envconfig:"SASL_USERNAME"`
	Password  string `envconfig:"SASL_PASSWORD"`
	// TLS turns TLS on, verified against the system roots or, when set, the PEM CAs in CAFile.
	TLS    bool   `envconfig:"TLS"`
	CAFile string `envconfig:"TLS_CA_FILE"`
}

// ErrConfig is wrapped by every error Opts returns for a Config that cannot work.
var ErrConfig = errors.New("kafka configuration")

// Opts are the franz-go options for c: its brokers, SASL and TLS. Extra options follow them.
// It returns an error wrapping ErrConfig when no broker is named, the mechanism is unknown, a
// mechanism lacks its user or password (or credentials come without a mechanism), or CAFile
// cannot be read.
func (c Config) Opts(extra ...kgo.Opt) ([]kgo.Opt, error) {
	var brokers []string
	for _, b := range c.Brokers {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("%w: no broker", ErrConfig)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	mech, err := c.mechanism()
	if err != nil {
		return nil, err
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	if c.TLS || c.CAFile != "" {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	return append(opts, extra...), nil
}

// NewClient is a franz-go client for c with the extra options. Errors are those of Opts and
// kgo.NewClient.
func (c Config) NewClient(extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.Opts(extra...)
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return client, nil
}

// String names the brokers and the principal, never the password (it is what logs show).
func (c Config) String() string {
	who := "anonymous"
	if c.Mechanism != "" {
		who = c.Username + " (" + c.Mechanism + ")"
	}
	return strings.Join(c.Brokers, ",") + " as " + who
}

func (c Config) mechanism() (sasl.Mechanism, error) {
	if c.Mechanism == "" {
		if c.Username != "" || c.Password != "" {
			return nil, fmt.Errorf("%w: a SASL user or password without a mechanism (set KAFKA_SASL_MECHANISM to %s or %s)", ErrConfig, ScramSHA512, ScramSHA256)
		}
		return nil, nil
	}
	if c.Username == "" || c.Password == "" {
		return nil, fmt.Errorf("%w: SASL %s needs a user and a password", ErrConfig, c.Mechanism)
	}
	switch strings.ToUpper(c.Mechanism) {
	case ScramSHA256:
		return scram.Auth{User: c.Username, Pass: c.Password}.AsSha256Mechanism(), nil
	case ScramSHA512:
		return scram.Auth{User: c.Username, Pass: c.Password}.AsSha512Mechanism(), nil
	case Plain:
		return plain.Auth{User: c.Username, Pass: c.Password}.AsMechanism(), nil
	}
	return nil, fmt.Errorf("%w: unknown SASL mechanism %q (use %s, %s or %s)", ErrConfig, c.Mechanism, ScramSHA512, ScramSHA256, Plain)
}

func (c Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%w: TLS CA file: %v", ErrConfig, err)
	}
	tc.RootCAs = x509.NewCertPool()
	if !tc.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: TLS CA file %s holds no PEM certificate", ErrConfig, c.CAFile)
	}
	return tc, nil
}

// Env is c as the environment variables a process reads it from (the inverse of its envconfig
// tags under KAFKA): how the local stack hands a function its principal.
func (c Config) Env() []string {
	env := []string{"KAFKA_BROKERS=" + strings.Join(c.Brokers, ",")}
	if c.Mechanism != "" {
		env = append(env, "KAFKA_SASL_MECHANISM="+c.Mechanism, "KAFKA_SASL_USERNAME="+c.Username, "KAFKA_SASL_PASSWORD="+c.Password)
	}
	if c.TLS {
		env = append(env, "KAFKA_TLS=true")
	}
	if c.CAFile != "" {
		env = append(env, "KAFKA_TLS_CA_FILE="+c.CAFile)
	}
	return env
}
