package local

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is one function running as its own OS process, as a pod would: restarted when it
// dies, stopped with SIGTERM (then SIGKILL) when the stack stops.
type process struct {
	name string
	bin  string
	port int
	env  []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

func (p *process) url() string { return fmt.Sprintf("http://127.0.0.1:%d", p.port) }

// supervise keeps p running until ctx ends.
func (p *process) supervise(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		started := time.Now()
		err := p.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		logf("%s exited (%v); restarting", p.name, err)
		if time.Since(started) > 10*time.Second {
			backoff = 200 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (p *process) runOnce(ctx context.Context) error {
	cmd := exec.Command(p.bin)
	cmd.Env = append(os.Environ(), append(p.env, fmt.Sprintf("PORT=%d", p.port), "HOST=127.0.0.1")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	go prefixLines(p.name, out)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			return <-done
		}
	}
}

// Kill kills the process, as a crashing pod; the supervisor starts it again.
func (p *process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return fmt.Errorf("%s is not running", p.name)
	}
	return p.cmd.Process.Kill()
}

// waitReady polls p's readiness probe until it answers 200 or ctx ends.
func (p *process) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(p.url() + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready: %w", p.name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func prefixLines(name string, r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		fmt.Fprintf(os.Stderr, "%-10s %s\n", name, s.Text())
	}
}
