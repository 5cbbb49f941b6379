package service

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestJobLoggerNamesTheJobFromTheContext(t *testing.T) {
	var buf bytes.Buffer
	log := JobLogger(slog.New(slog.NewJSONHandler(&buf, nil))).With("component", "ffmpeg")
	log.InfoContext(WithJob(context.Background(), "abc123"), "exec")
	log.InfoContext(context.Background(), "no job")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"job":"abc123"`) || !strings.Contains(lines[0], `"component":"ffmpeg"`) || strings.Contains(lines[1], `"job"`) {
		t.Errorf("lines:\n%s", buf.String())
	}
}
