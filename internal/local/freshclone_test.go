package local

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/smoke"
)

// TestMakeRunFromAFreshClone is the README's first command as a newcomer meets it: a fresh clone,
// no DATABASE_URL (so a private PostgreSQL under .data/), `make run`, wait for the gateway's
// readiness, the contract check, Ctrl-C (SIGINT to the terminal's process group), and nothing
// left running. Then a second start on the same folder, stopped by SIGKILL of the stack process:
// its functions must not outlive it.
func TestMakeRunFromAFreshClone(t *testing.T) {
	if testing.Short() {
		t.Skip("clones the repository and runs make run")
	}
	for _, tool := range []string{"git", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	bin, err := postgresBinaries()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	// As root, PostgreSQL runs as the postgres user, who must be able to reach the clone.
	parent, err := os.MkdirTemp("", "ordersaga-clone-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(parent, "ordersaga")
	t.Cleanup(func() {
		// A SIGKILLed stack cannot stop its PostgreSQL (the next start would take it over).
		_ = pgCommand(bin, "pg_ctl", "-D", filepath.Join(clone, ".data", "postgres"), "-m", "immediate", "-w", "stop").Run()
		os.RemoveAll(parent)
	})
	if out, err := exec.Command("git", "clone", "--quiet", moduleRoot(t), clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}

	// The first run: Ctrl-C stops it cleanly.
	run := startMakeRun(t, clone)
	run.waitReady(t)
	problems, err := smoke.Run(context.Background(), smoke.Config{BaseURL: run.url,
		AdminEmail: "admin@example.com", AdminPassword: "admin-password-123"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("contract: %s", p)
	}
	if len(problems) > 0 {
		t.Logf("make run output:\n%s", run.out.String())
	}
	procs := run.descendants()
	if len(procs) < 6 {
		t.Errorf("make run has %d processes below it, want make's child, the stack and its functions: %v", len(procs), procs)
	}
	run.signalGroup(t, syscall.SIGINT)
	out := run.wait(t)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "make: ***") || strings.Contains(line, "level=ERROR") {
			t.Errorf("Ctrl-C printed an error: %s", line)
		}
	}
	if !strings.Contains(out, "msg=stopped") {
		t.Errorf("the stack did not report a clean stop:\n%s", out)
	}
	// make itself ends as any program does on Ctrl-C (killed by SIGINT, 130 in a shell), after
	// its child, the stack, exited 0; an exit status of its own would mean the stack failed.
	if ws, ok := run.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !(ws.Exited() && ws.ExitStatus() == 0 || ws.Signaled() && ws.Signal() == syscall.SIGINT) {
		t.Errorf("make run after Ctrl-C: %v, want exit 0 or the SIGINT itself", run.cmd.ProcessState)
	}
	if t.Failed() {
		t.Logf("make run output:\n%s", out)
	}
	assertGone(t, procs)

	// The second run on the same folder; SIGKILL of the stack takes its functions with it.
	run = startMakeRun(t, clone)
	run.waitReady(t)
	procs = run.descendants()
	stack := procs.named("ordersaga-local")
	if stack == 0 {
		t.Fatalf("no ordersaga-local process among %v", procs)
	}
	if err := syscall.Kill(stack, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	run.wait(t)
	assertGone(t, procs)
}

// makeRun is one `make run` in its own process group, as a terminal's foreground job.
type makeRun struct {
	cmd *exec.Cmd
	url string
	out *syncBuffer
}

func startMakeRun(t *testing.T, dir string) *makeRun {
	t.Helper()
	gateway, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	kafkaPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "run")
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "KAFKA_") && !strings.HasPrefix(kv, "ORDERSAGA_") {
			env = append(env, kv)
		}
	}
	// Free ports rather than 8080, 9464 and 19092, so that the test runs beside anything else.
	cmd.Env = append(env, fmt.Sprintf("ORDERSAGA_GATEWAY_ADDR=127.0.0.1:%d", gateway), fmt.Sprintf("ORDERSAGA_KAFKA_PORT=%d", kafkaPort),
		"ORDERSAGA_METRICS_ADDR=127.0.0.1:0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &makeRun{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", gateway), out: out}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			_ = r.cmd.Wait()
			t.Logf("make run output:\n%s", out.String())
		}
	})
	return r
}

// waitReady waits for the gateway's readiness probe to answer 200 (the first start compiles).
func (r *makeRun) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get(r.url + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if r.cmd.ProcessState != nil || syscall.Kill(r.cmd.Process.Pid, 0) != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("make run did not become ready on %s:\n%s", r.url, r.out.String())
}

func (r *makeRun) signalGroup(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(-r.cmd.Process.Pid, sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits for make to end and returns what it printed.
func (r *makeRun) wait(t *testing.T) string {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("make run did not stop:\n%s", r.out.String())
	}
	return r.out.String()
}

// procList is a set of processes, each identified by pid and start time (pids are reused).
type procList map[int]procInfo

type procInfo struct {
	name  string
	start string
}

func (ps procList) named(name string) int {
	for pid, p := range ps {
		if p.name == name {
			return pid
		}
	}
	return 0
}

// descendants lists every process below make, following parent links in /proc. The functions
// are in process groups of their own, so only the tree finds them.
func (r *makeRun) descendants() procList {
	all := map[int]int{}
	info := map[int]procInfo{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, p, ok := readStat(pid); ok {
			all[pid], info[pid] = ppid, p
		}
	}
	out := procList{}
	for pid := range all {
		for p := all[pid]; p > 1; p = all[p] {
			if p == r.cmd.Process.Pid {
				out[pid] = info[pid]
				break
			}
		}
	}
	return out
}

// readStat reads a process's parent, name and start time from /proc/<pid>/stat.
func readStat(pid int) (ppid int, p procInfo, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, p, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return 0, p, false
	}
	fields := strings.Fields(string(b[end+1:])) // state ppid pgrp ... starttime is field 22 overall
	if len(fields) < 20 {
		return 0, p, false
	}
	ppid, _ = strconv.Atoi(fields[1])
	if fields[0] == "Z" {
		return ppid, p, false // a zombie is gone, only not yet reaped
	}
	return ppid, procInfo{name: string(b[open+1 : end]), start: fields[19]}, true
}

// assertGone fails unless every process of ps has ended (within a grace period for the kernel's
// parent-death signal and graceful shutdowns).
func assertGone(t *testing.T, ps procList) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []string
		for pid, p := range ps {
			if _, now, ok := readStat(pid); ok && now.start == p.start {
				left = append(left, fmt.Sprintf("%d (%s)", pid, p.name))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes left running: %s", strings.Join(left, ", "))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
