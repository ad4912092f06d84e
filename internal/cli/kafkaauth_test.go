package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// The stack's broker requires SASL: ordersctl logs in as the stack's ordersctl principal from its
// data folder with no flags (the saga test does that throughout), and is refused anonymously or
// with a wrong password, with the way out in the message, sending nothing.
func TestEventCommandsNeedKafkaCredentials(t *testing.T) {
	s := startStack(t)
	base := vars{"ORDERSCTL_SERVER": s.GatewayURL, "ORDERSCTL_KAFKA": strings.Join(s.KafkaBrokers, ","),
		"ORDERSCTL_TOPIC": s.Topic, "ORDERSCTL_CONFIG": filepath.Join(t.TempDir(), "config.json")}
	order := uuid.NewString()
	send := []string{"events", "send", "--type", "ORDER_REQUESTED", "--source", "/forged", "--order", order,
		"--data", `{"order_id":"` + order + `","user_id":"` + uuid.NewString() + `","items":[{"sku":"BOOK-1","quantity":1}]}`}

	anonymous := base.with("ORDERSCTL_KAFKA_CREDENTIALS", filepath.Join(t.TempDir(), "none.json"))
	wrong := base.with("ORDERSCTL_KAFKA_USER", "ordersctl", "ORDERSCTL_KAFKA_PASSWORD", "not-the-password")
	for name, tc := range map[string]struct {
		v    vars
		want string
	}{
		"anonymous":      {anonymous, "anonymous client"},
		"wrong password": {wrong, "as ordersctl"},
	} {
		for _, args := range [][]string{send, {"events", "trace", order}} {
			r := run(t, tc.v, args...)
			if r.code != ExitFailure || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%s: ordersctl %s: %s\nwant exit 1 mentioning %q", name, args[1], r, tc.want)
			}
		}
	}
	// Nothing was sent: the order has no event on the broker topic, as the stack's principal sees.
	r := run(t, base.with("ORDERSAGA_DATA", stackData()), "events", "trace", order)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "no events of order "+order) {
		t.Errorf("a refused send reached the topic, or trace failed otherwise: %s", r)
	}
	// A user without a password is a usage error, before any connection.
	if r := run(t, base.with("ORDERSCTL_KAFKA_USER", "ordersctl"), "events", "tail"); r.code != ExitUsage || !strings.Contains(r.stderr, "ORDERSCTL_KAFKA_PASSWORD") {
		t.Errorf("user without password: %s", r)
	}
}
