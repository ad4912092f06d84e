package local

import (
	"context"
	"net"
	"strings"
	"testing"
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
