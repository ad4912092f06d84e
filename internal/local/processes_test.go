package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the process's writer and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A crashing function's last lines (its panic, without a final newline) reach the log, every
// time: they are what says why it crashed.
func TestProcessKeepsACrashingFunctionsLastLines(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "crasher")
	script := "#!/bin/sh\necho starting\necho 'panic: boom' >&2\nprintf 'goroutine 1 [running]'\nexit 2\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		var log syncBuffer
		p := &process{name: "crasher", bin: bin, port: 1, log: &log}
		err := p.runOnce(context.Background())
		if err == nil {
			t.Fatal("a process exiting 2 reported no error")
		}
		got := log.String()
		for _, want := range []string{"crasher    starting\n", "crasher    panic: boom\n", "crasher    goroutine 1 [running]\n"} {
			if !strings.Contains(got, want) {
				t.Fatalf("run %d: the log lacks %q:\n%s", i, want, got)
			}
		}
	}
}

// Stop returns even when more parts fail than anyone reads: a failing part never blocks.
func TestStopReturnsWhenManyPartsFail(t *testing.T) {
	// The parts run on a context Stop does not cancel, so every one of them reports its failure
	// (a cancelled part's error is not a failure), whatever the scheduling.
	s := &Stack{cancel: func() {}, errc: make(chan error, 1)}
	for i := range 40 {
		s.run(context.Background(), fmt.Sprintf("part %d", i), func(context.Context) error { return errors.New("broken") })
	}
	stopped := make(chan struct{})
	go func() { s.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(waitLimit):
		t.Fatal("Stop did not return with 40 failed parts")
	}
	if err := s.Wait(context.Background()); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("Wait = %v, want the first part's failure", err)
	}
}
