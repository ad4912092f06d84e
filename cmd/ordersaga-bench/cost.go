package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/loadtest"
)

// Cost is where one run's work went, per order that ended: the figures the peer prints too, so
// the two designs can be compared step by step and not only by their totals.
type Cost struct {
	// CPUSeconds per process group: functions (the stack's children), data_plane (the stack
	// process: embedded Kafka, KafkaSource, ingress, dispatchers, gateway), postgres (every
	// PostgreSQL server process on the machine), load_driver (this process), machine (all
	// cores busy, from /proc/stat).
	CPUSeconds    map[string]float64 `json:"cpu_seconds"`
	CPUMsPerOrder map[string]float64 `json:"cpu_ms_per_order"`
	// Commits, WAL syncs and WAL bytes per order, from pg_stat_database (the stack's database)
	// and pg_stat_wal (the whole server).
	CommitsPerOrder  float64 `json:"commits_per_order"`
	WALSyncsPerOrder float64 `json:"wal_syncs_per_order"`
	WALBytesPerOrder float64 `json:"wal_bytes_per_order"`
	// EventsPerOrder are the records on the broker topic, DeliveriesPerOrder the HTTP deliveries
	// the Triggers make for them (each event once per function that reacts to its type), and
	// HTTPRequestsPerOrder adds the two REST hops of POST /orders (client to gateway, gateway to
	// the order function).
	EventsPerOrder       float64 `json:"events_per_order"`
	DeliveriesPerOrder   float64 `json:"deliveries_per_order"`
	HTTPRequestsPerOrder float64 `json:"http_requests_per_order"`
}

// usage is a snapshot of the counters a Cost is the difference of.
type usage struct {
	cpu                      map[string]float64
	commits, walSyncs, walBy int64
	events                   map[events.Type]int
}

// measureUsage reads the counters now. stackPID is the stack process; db its database.
func measureUsage(ctx context.Context, stackPID int, db string, w *loadtest.Watcher) (usage, error) {
	u := usage{cpu: map[string]float64{
		"data_plane":  selfCPU(stackPID),
		"functions":   childrenCPU(stackPID),
		"postgres":    postgresCPU(),
		"load_driver": selfCPU(os.Getpid()),
		"machine":     machineCPU(),
	}, events: w.Seen()}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return u, err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT w.wal_sync, w.wal_bytes::bigint, d.xact_commit
		FROM pg_stat_wal w, pg_stat_database d WHERE d.datname = current_database()`).Scan(&u.walSyncs, &u.walBy, &u.commits)
	return u, err
}

// costBetween is the cost of what happened between two snapshots, per ended order.
func costBetween(before, after usage, ended int) Cost {
	c := Cost{CPUSeconds: map[string]float64{}, CPUMsPerOrder: map[string]float64{}}
	if ended == 0 {
		return c
	}
	n := float64(ended)
	for group, s := range after.cpu {
		d := s - before.cpu[group]
		c.CPUSeconds[group] = loadtest.Round(d, 2)
		c.CPUMsPerOrder[group] = loadtest.Round(1000*d/n, 2)
	}
	c.CommitsPerOrder = loadtest.Round(float64(after.commits-before.commits)/n, 2)
	c.WALSyncsPerOrder = loadtest.Round(float64(after.walSyncs-before.walSyncs)/n, 2)
	c.WALBytesPerOrder = loadtest.Round(float64(after.walBy-before.walBy)/n, 0)
	var records, deliveries int
	for typ, count := range after.events {
		d := count - before.events[typ]
		records += d
		deliveries += d * len(events.Reactions[typ])
	}
	c.EventsPerOrder = loadtest.Round(float64(records)/n, 2)
	c.DeliveriesPerOrder = loadtest.Round(float64(deliveries)/n, 2)
	c.HTTPRequestsPerOrder = loadtest.Round(float64(deliveries)/n+2, 2)
	return c
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux this runs on.
const clockTicks = 100

// procStat returns pid's CPU times in seconds: its own (utime+stime) and its waited-for
// children's (cutime+cstime).
func procStat(pid int) (self, children float64, ok bool) {
	buf, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	return parseStat(string(buf))
}

// parseStat reads fields 14-17 (utime, stime, cutime, cstime) of a /proc/PID/stat line. The
// command name (field 2) may hold spaces and parentheses; the fields after it follow its last ')'.
func parseStat(s string) (self, children float64, ok bool) {
	closing := strings.LastIndexByte(s, ')')
	if closing < 0 || closing+2 > len(s) {
		return 0, 0, false
	}
	f := strings.Fields(s[closing+2:])
	if len(f) < 15 {
		return 0, 0, false
	}
	t := make([]float64, 4)
	for i := range t {
		v, err := strconv.ParseFloat(f[11+i], 64)
		if err != nil {
			return 0, 0, false
		}
		t[i] = v / clockTicks
	}
	return t[0] + t[1], t[2] + t[3], true
}

// selfCPU is the CPU time of pid itself.
func selfCPU(pid int) float64 {
	self, _, _ := procStat(pid)
	return self
}

// childrenCPU is the CPU time of pid's live children and of those it has waited for (a
// function restarted during the run keeps counting).
func childrenCPU(pid int) float64 {
	_, waited, _ := procStat(pid)
	total := waited
	eachProcess(func(_, ppid int, _, stat string) {
		if ppid == pid {
			self, children, _ := parseStat(stat)
			total += self + children
		}
	})
	return total
}

// postgresCPU is the CPU time of every PostgreSQL server process, with the backends they have
// waited for.
func postgresCPU() float64 {
	var total float64
	eachProcess(func(_, _ int, comm, stat string) {
		if comm == "postgres" {
			self, children, _ := parseStat(stat)
			total += self + children
		}
	})
	return total
}

// eachProcess calls f with every process's pid, parent, command name and /proc/PID/stat line.
func eachProcess(f func(pid, ppid int, comm, stat string)) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		buf, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(buf)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(s[closing+2:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		f(pid, ppid, s[open+1:closing], s)
	}
}

// machineCPU is the CPU time all cores spent busy (neither idle nor waiting for I/O).
func machineCPU() float64 {
	buf, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(buf), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 {
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / clockTicks
}

func (c Cost) String() string {
	return fmt.Sprintf("  cost per order: CPU ms functions %.2f, data plane %.2f, postgres %.2f, load driver %.2f, machine %.2f; "+
		"commits %.2f, WAL syncs %.2f, WAL bytes %.0f; events %.2f, deliveries %.2f, HTTP requests %.2f",
		c.CPUMsPerOrder["functions"], c.CPUMsPerOrder["data_plane"], c.CPUMsPerOrder["postgres"], c.CPUMsPerOrder["load_driver"],
		c.CPUMsPerOrder["machine"], c.CommitsPerOrder, c.WALSyncsPerOrder, c.WALBytesPerOrder, c.EventsPerOrder,
		c.DeliveriesPerOrder, c.HTTPRequestsPerOrder)
}
