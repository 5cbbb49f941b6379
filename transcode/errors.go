package transcode

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Code is a stable, machine-readable name for a failure that a user can act
// on. Codes are part of mediaprep's interface (JSON output, exit reports,
// later HTTP bodies): never rename one.
type Code string

// The codes a preparation can fail with. README lists them.
const (
	CodeEmptyFile       Code = "empty_file"       // the input has zero bytes
	CodeUnsupportedType Code = "unsupported_type" // the bytes are not an image, video or audio format mediaprep handles
	CodeCorruptMedia    Code = "corrupt_media"    // the type is known but the content cannot be decoded
	CodeTooManyPixels   Code = "too_many_pixels"  // the picture's declared dimensions exceed Config.MaxPixels, or a video frame's (an animated GIF's logical screen) Config.MaxVideoPixels
	CodeOverLimit       Code = "over_limit"       // a declared property is over a Config limit: duration, frame rate, audio channels or sample rate, the memory a picture takes to decode
	CodeTooLarge        Code = "too_large"        // the input or the prepared output exceeds a size limit
	CodeTimeout         Code = "timeout"          // a step ran past its deadline
	CodeCanceled        Code = "canceled"         // the caller gave up (Ctrl-C, shutdown)
	CodeInternal        Code = "internal"         // a bug or a broken installation (ffmpeg missing...)
)

// Sentinel errors, one per code. Errors returned by this package wrap one of
// them together with the file they concern; test with errors.Is or CodeOf.
var (
	ErrEmptyFile       = &codeError{CodeEmptyFile, "file is empty"}
	ErrUnsupportedType = &codeError{CodeUnsupportedType, "unsupported media type"}
	ErrCorruptMedia    = &codeError{CodeCorruptMedia, "media cannot be decoded"}
	ErrTooManyPixels   = &codeError{CodeTooManyPixels, "image has too many pixels"}
	ErrTooLarge        = &codeError{CodeTooLarge, "media is too large"}
	ErrOverLimit       = &codeError{CodeOverLimit, "media is over a limit"}
	ErrTimeout         = &codeError{CodeTimeout, "deadline exceeded"}
)

type codeError struct {
	code Code
	msg  string
}

func (e *codeError) Error() string { return "transcode: " + e.msg }

// CodeOf returns the stable code of err: the code of the sentinel it wraps,
// timeout for a deadline, canceled for a canceled context, and internal for
// anything else. CodeOf(nil) is "".
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var ce *codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	}
	return CodeInternal
}

// ExecError is the failure of an external program (ffmpeg, ffprobe,
// heif-convert). It carries the exit code and the last lines of stderr, which
// is where these tools say what went wrong.
type ExecError struct {
	Program  string // base name of the program, e.g. "ffmpeg"
	ExitCode int    // -1 when the program did not exit on its own (killed, not started)
	Stderr   string // the tail of its standard error, trimmed
	Err      error  // the underlying error from os/exec or the context
}

func (e *ExecError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", e.Program)
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, " exited with status %d", e.ExitCode)
	} else {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if s := lastLine(e.Stderr); s != "" {
		fmt.Fprintf(&b, ": %s", s)
	}
	return b.String()
}

func (e *ExecError) Unwrap() error { return e.Err }

// lastLine returns the last non-empty line of s: ffmpeg's most specific
// complaint is usually there.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}
