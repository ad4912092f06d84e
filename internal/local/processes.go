package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// process is one function running as its own OS process, as a pod would: restarted when it
// dies, stopped with SIGTERM (then SIGKILL) when the stack stops.
//
// The stack owns the function's listening socket and hands it to each instance it starts
// (LISTEN_FDS, file descriptor 3). The socket outlives the instances, so while one restarts,
// requests wait in the socket's queue for the next instead of being refused: the hold that
// Knative's activator gives a function scaled to zero or restarting.
type process struct {
	name   string
	bin    string
	port   int
	socket *os.File // the listening socket, kept open by the stack
	env    []string
	log    io.Writer // where its output goes; os.Stderr when nil
	// restarted, when set, is called as the supervisor starts the process again after it
	// exited on its own (a crash): a scaled instance is then not ready until it says so again.
	restarted func()

	mu  sync.Mutex
	cmd *exec.Cmd
}

// newProcess opens name's listening socket on a free port of 127.0.0.1.
func newProcess(name, bin string) (*process, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close() // the file below is a copy that keeps the socket open
	socket, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, err
	}
	return &process{name: name, bin: bin, port: ln.Addr().(*net.TCPAddr).Port, socket: socket}, nil
}

// close closes the listening socket, once no instance runs.
func (p *process) close() {
	if p.socket != nil {
		p.socket.Close()
	}
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
		if p.restarted != nil {
			p.restarted()
		}
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
	// The kernel's parent-death signal (functionProcAttr) fires when the *thread* that started
	// the child exits, not the process. Go may end a thread a goroutine leaves locked, so this
	// goroutine holds its thread until the child has exited: only the stack's death kills it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command(p.bin)
	cmd.Env = append(os.Environ(), append(p.env, fmt.Sprintf("PORT=%d", p.port), "HOST=127.0.0.1")...)
	if p.socket != nil {
		cmd.ExtraFiles = []*os.File{p.socket} // file descriptor 3
		cmd.Env = append(cmd.Env, "LISTEN_FDS=1")
	}
	cmd.SysProcAttr = functionProcAttr()
	// A writer, not a pipe read by another goroutine: exec copies the output to it and Wait
	// returns only once everything written is copied, so a crashing function's last lines (its
	// panic) always reach the log.
	out := &linePrefixer{prefix: fmt.Sprintf("%-10s ", p.name), w: p.logTo()}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		out.Flush()
		done <- err
	}()
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
func (p *process) Kill() error { return p.Signal(os.Kill) }

// Signal sends sig to the running instance.
func (p *process) Signal(sig os.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return fmt.Errorf("%s is not running", p.name)
	}
	return p.cmd.Process.Signal(sig)
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

// logTo is where p's output goes: the stack's standard error unless a test set another.
func (p *process) logTo() io.Writer {
	if p.log != nil {
		return p.log
	}
	return os.Stderr
}

// linePrefixer writes each complete line given to it to w with prefix; Flush writes a last
// partial line. Safe for the two writers exec gives it (stdout and stderr).
type linePrefixer struct {
	prefix string
	w      io.Writer

	mu      sync.Mutex
	partial []byte
}

func (l *linePrefixer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		if _, err := fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.partial[:i]); err != nil {
			return len(b), err
		}
		l.partial = l.partial[i+1:]
	}
	return len(b), nil
}

// Flush writes what is left of an unterminated last line.
func (l *linePrefixer) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.partial)
		l.partial = nil
	}
}
