package transcode

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunErrors(t *testing.T) {
	t.Run("exit status and stderr tail", func(t *testing.T) {
		err := run(t.Context(), time.Minute, nil, "sh", "-c", "echo first >&2; echo 'the real reason' >&2; exit 3")
		var ee *ExecError
		if !errors.As(err, &ee) {
			t.Fatalf("run = %v, want an *ExecError", err)
		}
		if ee.ExitCode != 3 || ee.Program != "sh" || !strings.Contains(ee.Stderr, "first") {
			t.Fatalf("ExecError = %+v", ee)
		}
		if msg := err.Error(); msg != "sh exited with status 3: the real reason" {
			t.Fatalf("message %q", msg)
		}
		if CodeOf(err) != CodeInternal {
			t.Fatalf("code %q, want internal", CodeOf(err))
		}
	})
	t.Run("deadline kills the process group", func(t *testing.T) {
		// The grandchild sleep would keep the pipe open if only sh died.
		start := time.Now()
		err := run(t.Context(), 200*time.Millisecond, nil, "sh", "-c", "sleep 30 & sleep 30")
		if !errors.Is(err, ErrTimeout) || CodeOf(err) != CodeTimeout {
			t.Fatalf("run = %v (code %q), want ErrTimeout", err, CodeOf(err))
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("run waited for the grandchild")
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		go func() { time.Sleep(100 * time.Millisecond); cancel() }()
		err := run(ctx, time.Minute, nil, "sleep", "30")
		if !errors.Is(err, context.Canceled) || CodeOf(err) != CodeCanceled {
			t.Fatalf("run = %v (code %q), want context.Canceled", err, CodeOf(err))
		}
	})
	t.Run("missing program", func(t *testing.T) {
		err := run(t.Context(), time.Minute, nil, "/nonexistent/ffmpeg")
		var ee *ExecError
		if !errors.As(err, &ee) || ee.ExitCode != -1 || CodeOf(err) != CodeInternal {
			t.Fatalf("run = %v, want an internal ExecError without exit code", err)
		}
	})
	t.Run("stdout captured", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(t.Context(), time.Minute, &out, "echo", "hello"); err != nil || out.String() != "hello\n" {
			t.Fatalf("run = %v, stdout %q", err, out.String())
		}
	})
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 8}
	if _, err := tb.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	if got := tb.String(); got != "456789ab" {
		t.Fatalf("tail = %q, want %q", got, "456789ab")
	}
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		want Code
	}{
		{nil, ""},
		{ErrEmptyFile, CodeEmptyFile},
		{wrap(ErrUnsupportedType), CodeUnsupportedType},
		{wrap(ErrCorruptMedia), CodeCorruptMedia},
		{wrap(ErrTooManyPixels), CodeTooManyPixels},
		{wrap(ErrTooLarge), CodeTooLarge},
		{wrap(ErrTimeout), CodeTimeout},
		{wrap(context.DeadlineExceeded), CodeTimeout},
		{wrap(context.Canceled), CodeCanceled},
		{errors.New("boom"), CodeInternal},
	}
	for _, tt := range tests {
		if got := CodeOf(tt.err); got != tt.want {
			t.Errorf("CodeOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func wrap(err error) error { return errors.Join(errors.New("context"), err) }
