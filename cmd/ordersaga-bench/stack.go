package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ordersaga/ordersaga/internal/manifests"
)

// childStack is the local stack run as `make run` runs it: bin/ordersaga-local in its own
// process, with its functions as its children. A separate process (rather than the stack in this
// one) lets the cost breakdown tell the data plane's CPU from the load driver's.
type childStack struct {
	cmd                                    *exec.Cmd
	exited                                 chan error
	gatewayURL, kafka, topic               string
	adminEmail, adminPassword, dataDir, db string
	dropDB                                 func()
	stopOnce                               sync.Once
}

// startChildStack builds cmd/ordersaga-local and starts it (ORDERSAGA_SCALING=scaling) on free ports, a scratch database it
// drops afterwards and a fresh data folder, then waits for the gateway's readiness.
func startChildStack(ctx context.Context, o options, scaling string) (*childStack, error) {
	root, err := manifests.ModuleRoot()
	if err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(filepath.Join(o.dataDir, "bench"))
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(dataDir, "kafka")); err != nil {
		return nil, err
	}
	bin := filepath.Join(dataDir, "ordersaga-local")
	fmt.Fprintln(os.Stderr, "building the stack and its functions...")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/ordersaga-local")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build ordersaga-local: %v\n%s", err, out)
	}
	dbURL, dropDB, err := scratchDatabase(ctx, o.databaseURL, "ordersaga_bench")
	if err != nil {
		return nil, err
	}
	s := &childStack{dataDir: dataDir, db: dbURL, dropDB: dropDB, topic: o.topic,
		adminEmail: "admin@bench.test", adminPassword: "bench-" + strconv.FormatUint(rand.Uint64(), 36)}
	gatewayPort, err1 := freePort()
	kafkaPort, err2 := freePort()
	if err := errors.Join(err1, err2); err != nil {
		dropDB()
		return nil, err
	}
	s.gatewayURL = fmt.Sprintf("http://127.0.0.1:%d", gatewayPort)
	s.kafka = fmt.Sprintf("127.0.0.1:%d", kafkaPort)
	logFile, err := os.Create(filepath.Join(dataDir, "stack.log"))
	if err != nil {
		dropDB()
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	s.cmd = exec.Command(bin)
	s.cmd.Dir = root
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.cmd.Env = append(os.Environ(),
		"ORDERSAGA_DATA="+dataDir, "DATABASE_URL="+dbURL,
		"ORDERSAGA_GATEWAY_ADDR="+fmt.Sprintf("127.0.0.1:%d", gatewayPort), "ORDERSAGA_METRICS_ADDR=127.0.0.1:0",
		"ORDERSAGA_KAFKA_PORT="+strconv.Itoa(kafkaPort), "KAFKA_BROKERS=",
		"PAYMENT_SUCCESS_RATE="+o.paymentRate, "ORDERSAGA_SCALING="+scaling,
		"ORDERSAGA_ADMIN_EMAIL="+s.adminEmail, "ORDERSAGA_ADMIN_PASSWORD="+s.adminPassword,
		"ORDERSAGA_CPUPROFILE="+o.cpuProfile)
	// The stack asks for SIGTERM when the thread that started it exits (local.DieWithParent), so
	// one goroutine starts it and keeps its thread locked until the stack has exited.
	started := make(chan error, 1)
	s.exited = make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := s.cmd.Start()
		started <- err
		if err == nil {
			s.exited <- s.cmd.Wait()
		}
		close(s.exited)
	}()
	if err := <-started; err != nil {
		dropDB()
		return nil, err
	}
	if err := s.waitReady(ctx); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w (its log: %s)", err, logFile.Name())
	}
	return s, nil
}

// waitReady polls the gateway's readiness until it answers 200, the stack exits or 5 minutes
// pass (the first start compiles every function).
func (s *childStack) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.exited:
			return fmt.Errorf("the stack exited before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := http.Get(s.gatewayURL + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("the stack was not ready within 5 minutes")
}

// stop interrupts the stack as Ctrl-C would, kills its process group if it has not stopped in
// 30 s, and drops the scratch database. Only the first call does anything.
func (s *childStack) stop() {
	s.stopOnce.Do(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.exited
		}
		s.dropDB()
	})
}
