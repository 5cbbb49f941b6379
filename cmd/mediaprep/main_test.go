package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
)

// jsonLine is one line of `prepare --json`.
type jsonLine struct {
	Source          string  `json:"source"`
	Kind            string  `json:"kind"`
	Method          string  `json:"method"`
	Output          string  `json:"output"`
	FileName        string  `json:"fileName"`
	ContentType     string  `json:"contentType"`
	Width           int     `json:"width"`
	Height          int     `json:"height"`
	DurationSeconds float64 `json:"durationSeconds"`
	SizeBytes       int64   `json:"sizeBytes"`
	SHA256          string  `json:"sha256"`
	FastPath        *bool   `json:"fastPath"`
	Error           *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func runJSON(t *testing.T, args ...string) ([]jsonLine, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, noEnv, &stdout, &stderr)
	var lines []jsonLine
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var l jsonLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines, code
}

// runFailing runs args, which name n inputs that all fail, and returns
// its JSON lines; the test fails unless it exits exitFailed with one line
// an input.
func runFailing(t *testing.T, n int, args ...string) []jsonLine {
	t.Helper()
	lines, code := runJSON(t, args...)
	if code != exitFailed {
		t.Errorf("exit status %d, want %d", code, exitFailed)
	}
	if len(lines) != n {
		t.Fatalf("%d JSON lines for %d inputs", len(lines), n)
	}
	return lines
}

func TestPrepareBadInputs(t *testing.T) {
	testutil.NeedFFmpeg(t)
	out := t.TempDir()
	want := map[string]string{
		"empty.mp4":               "empty_file",
		"text.mp4":                "unsupported_type",
		"random.bin":              "unsupported_type",
		"doc.pdf":                 "unsupported_type",
		"archive.zip":             "unsupported_type",
		"truncated.mp4":           "corrupt_media",
		"truncated-faststart.mp4": "corrupt_media",
		"truncated.jpg":           "corrupt_media",
		"bomb.png":                "too_many_pixels",
	}
	args := []string{"prepare", "--json", "--out", out}
	for name := range want {
		args = append(args, filepath.Join("..", "..", "testdata", "bad", name))
	}
	lines := runFailing(t, len(want), args...)
	for i, l := range lines {
		if l.Source != args[4+i] {
			t.Errorf("line %d is for %s, want %s (input order)", i, l.Source, args[4+i])
		}
		w := want[filepath.Base(l.Source)]
		if l.Error == nil || l.Error.Code != w {
			t.Errorf("%s: error %+v, want code %s", l.Source, l.Error, w)
			continue
		}
		if l.Error.Message == "" || l.Output != "" || l.Kind != "" {
			t.Errorf("%s: a failed line must carry only source and error: %+v", l.Source, l)
		}
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		t.Errorf("bad inputs left %s in the output folder", e.Name())
	}
}

func TestPrepareSamples(t *testing.T) {
	testutil.NeedFFmpeg(t)
	out := t.TempDir()
	samples, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "samples", "*"))
	if len(samples) < 10 {
		t.Fatalf("only %d samples", len(samples))
	}
	lines, code := runJSON(t, append([]string{"prepare", "--json", "-j", "2", "--out", out}, samples...)...)
	if code != exitOK {
		for _, l := range lines {
			if l.Error != nil {
				t.Errorf("%s: %s: %s", l.Source, l.Error.Code, l.Error.Message)
			}
		}
		t.Fatalf("exit status %d, want 0", code)
	}
	want := map[string]struct{ kind, method, ext, ctype string }{
		"image": {"image", "sendMediaStatus", ".jpg", "image/jpeg"},
		"video": {"video", "sendMediaStatus", ".mp4", "video/mp4"},
		"audio": {"audio", "sendVoiceStatus", ".mp3", "audio/mpeg"},
	}
	kinds := map[string]int{}
	for _, l := range lines {
		w, ok := want[l.Kind]
		if !ok {
			t.Errorf("%s: kind %q", l.Source, l.Kind)
			continue
		}
		kinds[l.Kind]++
		if l.Method != w.method || filepath.Ext(l.FileName) != w.ext || l.ContentType != w.ctype {
			t.Errorf("%s: method %s, fileName %s, contentType %s; want %s, *%s, %s", l.Source, l.Method, l.FileName, l.ContentType, w.method, w.ext, w.ctype)
		}
		st, err := os.Stat(l.Output)
		if err != nil || st.Size() != l.SizeBytes || l.SizeBytes == 0 {
			t.Errorf("%s: output %s (%v), sizeBytes %d", l.Source, l.Output, err, l.SizeBytes)
		}
		if len(l.SHA256) != 64 || l.FastPath == nil {
			t.Errorf("%s: sha256 %q, fastPath %v", l.Source, l.SHA256, l.FastPath)
		}
		if l.Kind != "audio" && (l.Width == 0 || l.Height == 0) {
			t.Errorf("%s: no dimensions", l.Source)
		}
		if l.Kind != "image" && (l.DurationSeconds <= 0 || l.DurationSeconds > 60.05) {
			t.Errorf("%s: duration %.2f", l.Source, l.DurationSeconds)
		}
	}
	for k := range want {
		if kinds[k] == 0 {
			t.Errorf("no sample was prepared as %s", k)
		}
	}
	// The readable summary names every file and ends with the count.
	var stdout bytes.Buffer
	if code := run(t.Context(), append([]string{"prepare", "--out", t.TempDir()}, samples[:2]...), noEnv, &stdout, &stdout); code != exitOK {
		t.Fatalf("summary run: exit %d: %s", code, stdout.String())
	}
	if !strings.Contains(stdout.String(), "2 prepared, 0 failed") {
		t.Errorf("summary %q lacks the count", stdout.String())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"prepare"},
		{"prepare", "--crop", "diagonal", "x.jpg"},
		{"prepare", "--video-fit", "stretch", "x.mp4"},
		{"prepare", "-j", "0", "x.mp4"},
		{"prepare", "--no-such-flag", "x.mp4"},
		{"no-such-command"},
	} {
		var out bytes.Buffer
		if code := run(t.Context(), args, noEnv, &out, &out); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, out.String())
		}
	}
}

// TestInterrupt sends SIGINT to a real mediaprep in the middle of a long
// transcode: it must exit at once with 130, kill ffmpeg, and leave nothing
// in the output folder.
func TestInterrupt(t *testing.T) {
	testutil.NeedFFmpeg(t)
	dir := t.TempDir()
	bin := buildBinary(t)
	// A source that takes a while to encode: 20 s of 1080p.
	src := filepath.Join(dir, "long.mp4")
	gen := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30:d=20",
		"-c:v", "libx264", "-preset", "ultrafast", "-crf", "40", src)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("making the source: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "out")
	cmd := exec.Command(bin, "prepare", "--force-transcode", "--out", out, src)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until mediaprep's ffmpeg child is running.
	deadline := time.Now().Add(60 * time.Second)
	var children []int
	for {
		children = childPIDs(cmd.Process.Pid, "ffmpeg")
		if len(children) > 0 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill() // killing a process that may have just exited: Fatalf follows
			t.Fatalf("ffmpeg never started: %s", stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit status %d (%v), want %d\n%s", code, err, exitInterrupted, stdout.String())
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		t.Errorf("interrupt left %s in the output folder", e.Name())
	}
	for _, pid := range children {
		if syscall.Kill(pid, 0) == nil {
			if b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); !strings.Contains(string(b), ") Z ") {
				t.Errorf("child process %d outlived mediaprep", pid)
			}
		}
	}
}

// childPIDs lists the processes named comm whose parent is pid (Linux
// /proc).
func childPIDs(pid int, comm string) []int {
	var pids []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		lp, rp := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if lp < 0 || rp < lp || s[lp+1:rp] != comm {
			continue
		}
		f := strings.Fields(s[rp+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(strings.Fields(s)[0])
			pids = append(pids, child)
		}
	}
	return pids
}

// noEnv is an empty environment for run.
func noEnv(string) string { return "" }
