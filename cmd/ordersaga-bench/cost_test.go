package main

import (
	"testing"

	"github.com/ordersaga/ordersaga/internal/events"
)

func TestParseStatReadsCPUTimesAfterTheCommandName(t *testing.T) {
	// A command name with a space and a ')' of its own, as /proc shows it.
	line := "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 150 50 30 20 20 0 8 0 100 0 0\n"
	self, children, ok := parseStat(line)
	if !ok || self != 2.0 || children != 0.5 {
		t.Fatalf("parseStat = %v, %v, %v; want 2 s (150+50 ticks), 0.5 s (30+20 ticks), true", self, children, ok)
	}
	for _, bad := range []string{"", "4242 (x", "4242 (x) S 1 2", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 ten 50 30 20 20"} {
		if _, _, ok := parseStat(bad); ok {
			t.Errorf("parseStat(%q) ok; want refused", bad)
		}
	}
}

func TestCostBetweenCountsPerEndedOrder(t *testing.T) {
	before := usage{cpu: map[string]float64{"functions": 1}, commits: 10, walSyncs: 5, walBy: 1000,
		events: map[events.Type]int{events.OrderRequested: 1}}
	after := usage{cpu: map[string]float64{"functions": 3}, commits: 30, walSyncs: 15, walBy: 3000,
		events: map[events.Type]int{events.OrderRequested: 3, events.InventoryReserved: 2}}
	c := costBetween(before, after, 2)
	if c.CPUMsPerOrder["functions"] != 1000 || c.CommitsPerOrder != 10 || c.WALSyncsPerOrder != 5 || c.WALBytesPerOrder != 1000 {
		t.Errorf("cost = %+v", c)
	}
	// 2 ORDER_REQUESTED (inventory reacts) and 2 INVENTORY_RESERVED (order and payment react).
	if c.EventsPerOrder != 2 || c.DeliveriesPerOrder != 3 || c.HTTPRequestsPerOrder != 5 {
		t.Errorf("events %v, deliveries %v, requests %v; want 2, 3, 5", c.EventsPerOrder, c.DeliveriesPerOrder, c.HTTPRequestsPerOrder)
	}
	if zero := costBetween(before, after, 0); len(zero.CPUSeconds) != 0 {
		t.Errorf("no ended order: %+v", zero)
	}
}
