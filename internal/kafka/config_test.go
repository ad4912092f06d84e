package kafka_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"

	"github.com/ordersaga/ordersaga/internal/kafka"
)

func TestConfigFromTheEnvironment(t *testing.T) {
	t.Setenv("KAFKA_BROKERS", "a:9092,b:9092")
	t.Setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
	t.Setenv("KAFKA_SASL_USERNAME", "ordersaga-order")
	t.Setenv("KAFKA_SASL_PASSWORD", "secret")
	var cfg struct {
		Kafka kafka.Config `envconfig:"KAFKA"`
	}
	if err := envconfig.Process("", &cfg); err != nil {
		t.Fatal(err)
	}
	want := kafka.Config{Brokers: []string{"a:9092", "b:9092"}, Mechanism: kafka.ScramSHA512, Username: "ordersaga-order", Password: "secret"}
	if cfg.Kafka.String() != want.String() || cfg.Kafka.Password != "secret" {
		t.Errorf("config = %+v, want %+v", cfg.Kafka, want)
	}
	if strings.Contains(cfg.Kafka.String(), "secret") {
		t.Errorf("String() shows the password: %s", cfg.Kafka)
	}
	// Env is the inverse: what the local stack hands the order function.
	env := strings.Join(cfg.Kafka.Env(), "\n")
	for _, kv := range []string{"KAFKA_BROKERS=a:9092,b:9092", "KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "KAFKA_SASL_USERNAME=ordersaga-order", "KAFKA_SASL_PASSWORD=secret"} {
		if !strings.Contains(env, kv) {
			t.Errorf("Env() lacks %s: %s", kv, env)
		}
	}
}

func TestUnusableConfigsAreRefused(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := []string{"127.0.0.1:9092"}
	for name, c := range map[string]kafka.Config{
		"no broker":                  {},
		"blank brokers":              {Brokers: []string{" ", ""}},
		"unknown mechanism":          {Brokers: b, Mechanism: "GSSAPI", Username: "u", Password: "p"},
		"mechanism without password": {Brokers: b, Mechanism: kafka.ScramSHA256, Username: "u"},
		"mechanism without user":     {Brokers: b, Mechanism: kafka.ScramSHA512, Password: "p"},
		"user without mechanism":     {Brokers: b, Username: "u", Password: "p"},
		"missing CA file":            {Brokers: b, TLS: true, CAFile: filepath.Join(t.TempDir(), "none.pem")},
		"CA file without a cert":     {Brokers: b, TLS: true, CAFile: caFile},
	} {
		if _, err := c.Opts(); !errors.Is(err, kafka.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	for name, c := range map[string]kafka.Config{
		"anonymous":      {Brokers: b},
		"scram-sha-512":  {Brokers: b, Mechanism: "scram-sha-512", Username: "u", Password: "p"},
		"plain over tls": {Brokers: b, Mechanism: kafka.Plain, Username: "u", Password: "p", TLS: true},
	} {
		if _, err := c.Opts(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCredentialsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), kafka.CredentialsFile)
	first, err := kafka.EnsureCredentials(path, "order", kafka.LocalCLIUser)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	// The same passwords on the next start, and one more for a new principal.
	again, err := kafka.EnsureCredentials(path, "order", kafka.LocalCLIUser, "knative-broker")
	if err != nil {
		t.Fatal(err)
	}
	if again.Users["order"] != first.Users["order"] || again.Users["knative-broker"] == "" || again.Mechanism != kafka.ScramSHA512 {
		t.Errorf("credentials changed or incomplete: %+v then %+v", first, again)
	}
	c, err := kafka.LocalClient([]string{"k:1"}, path)
	if err != nil || c.Username != kafka.LocalCLIUser || c.Password != first.Users[kafka.LocalCLIUser] {
		t.Errorf("LocalClient = %+v, %v", c, err)
	}
	if _, err := again.Config([]string{"k:1"}, "mallory"); err == nil {
		t.Error("a principal the file does not hold got a config")
	}

	// No file: anonymous. A file others can read, or not a credentials file: refused.
	if c, err := kafka.LocalClient([]string{"k:1"}, filepath.Join(t.TempDir(), "none.json")); err != nil || c.Mechanism != "" {
		t.Errorf("without a file: %+v, %v; want anonymous", c, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := kafka.LocalClient([]string{"k:1"}, path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable file: err = %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"users":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := kafka.EnsureCredentials(bad, "order"); err == nil {
		t.Error("a file with no mechanism and no users was taken as credentials")
	}
}
