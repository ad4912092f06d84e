package local

import (
	"context"
	"math"
	"net"
	"strings"
	"testing"
	"time"
)

// A busy gateway address is reported at once, with the setting to change, before anything is
// built or started (the address is taken first, so no function process can be handed it).
func TestStartReportsABusyGatewayAddressFirst(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// Root points nowhere: had Start gone past the address, it would fail on the manifests instead.
	_, err = Start(context.Background(), Config{Root: t.TempDir() + "/missing", DataDir: t.TempDir(), GatewayAddr: busy.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "ORDERSAGA_GATEWAY_ADDR") {
		t.Fatalf("Start on a busy gateway address: %v, want an error naming ORDERSAGA_GATEWAY_ADDR", err)
	}
}

// Scaling overrides that cannot mean anything stop the stack at once, naming the variable.
func TestStartRefusesMeaninglessScalingOverrides(t *testing.T) {
	for name, c := range map[string]ScalingConfig{
		"ORDERSAGA_SCALE_WINDOW":        {StableWindow: 100 * time.Millisecond},
		"ORDERSAGA_SCALE_TO_ZERO_GRACE": {ScaleToZeroGrace: -time.Second},
		"ORDERSAGA_SCALE_TARGET":        {Target: math.Inf(1)},
	} {
		_, err := Start(context.Background(), Config{Root: t.TempDir(), DataDir: t.TempDir(), GatewayAddr: "127.0.0.1:0", Scale: c})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%+v: %v, want an error naming %s", c, err, name)
		}
	}
}
