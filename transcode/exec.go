package transcode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// stderrTail is how much of a program's standard error an ExecError keeps.
const stderrTail = 4 << 10

// exec runs program like run and logs the command line and its outcome at
// debug level, so `mediaprep -v` shows exactly what ran.
func (t *Transcoder) exec(ctx context.Context, timeout time.Duration, stdout *bytes.Buffer, program string, args ...string) error {
	return t.execStderr(ctx, timeout, stdout, nil, program, args...)
}

// execStderr is exec that also copies the program's standard error to
// stderr, when non-nil, whatever the outcome.
func (t *Transcoder) execStderr(ctx context.Context, timeout time.Duration, stdout *bytes.Buffer, stderr io.Writer, program string, args ...string) error {
	start := time.Now()
	err := runStderr(ctx, timeout, stdout, stderr, program, args...)
	t.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "exec",
		slog.String("program", program),
		slog.Any("args", args),
		slog.Duration("took", time.Since(start)),
		slog.Any("err", err))
	return err
}

// run executes program with args (never through a shell) and waits for it.
// The run is bounded by timeout and by ctx: when either ends, the program's
// whole process group is killed at once, and the error wraps ErrTimeout or
// ctx's error. stdout, when non-nil, receives the program's standard output.
func run(ctx context.Context, timeout time.Duration, stdout *bytes.Buffer, program string, args ...string) error {
	return runStderr(ctx, timeout, stdout, nil, program, args...)
}

// runStderr is run that also copies standard error to stderr when non-nil.
func runStderr(ctx context.Context, timeout time.Duration, stdout *bytes.Buffer, stderr io.Writer, program string, args ...string) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, ErrTimeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, program, args...)
	// A process group of its own, so that a kill reaches anything the
	// program started, and Ctrl-C in a terminal reaches only us: we decide
	// when ffmpeg dies.
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	tail := &tailBuffer{max: stderrTail}
	cmd.Stderr = tail
	if stderr != nil {
		cmd.Stderr = io.MultiWriter(tail, stderr)
	}
	if stdout != nil {
		cmd.Stdout = stdout
	}
	err := cmd.Run()
	if err == nil {
		return nil
	}
	ee := &ExecError{Program: filepath.Base(program), ExitCode: -1, Stderr: tail.String(), Err: err}
	if ctx.Err() != nil {
		// Killed because of the deadline or the caller: say that, not
		// "signal: killed".
		cause := context.Cause(ctx)
		if errors.Is(cause, ErrTimeout) {
			ee.Err = fmt.Errorf("%w after %s", ErrTimeout, timeout)
		} else {
			ee.Err = cause
		}
		return ee
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		ee.ExitCode = exitErr.ExitCode()
	}
	return ee
}

// tailBuffer is an io.Writer that keeps only the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
