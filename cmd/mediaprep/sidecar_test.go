package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBatchSidecarCropAndAccountPerFile: batch honours a sidecar's crop
// per file (as the inbox does), refuses a bad one, and refuses an account
// other than the run's with bad_metadata naming --account.
func TestBatchSidecarCropAndAccountPerFile(t *testing.T) {
	e := newE2E(t)
	dir := t.TempDir()
	for name, sidecar := range map[string]string{
		"default": "",
		"pad":     `{"crop": "pad"}`,
		"center":  `{"crop": "center"}`,
		"bad":     `{"crop": "diagonal"}`,
		"account": `{"account": "shop"}`,
	} {
		copyFile(t, sample("sample.jpg"), filepath.Join(dir, name, "pic.jpg"))
		if sidecar != "" {
			writeFile(t, filepath.Join(dir, name, "pic.jpg.json"), sidecar)
		}
	}
	stdout, code := e.run("batch", "--dry-run", "--json", "--out", filepath.Join(t.TempDir(), "out"), dir)
	if code != exitFailed {
		t.Errorf("exit %d, want %d for the two refused files", code, exitFailed)
	}
	by := map[string]postLine{}
	for _, l := range parseLines(t, stdout) {
		by[filepath.Base(filepath.Dir(l.Source))] = l
	}
	if len(by) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(by), stdout)
	}
	for _, name := range []string{"default", "pad", "center"} {
		if l := by[name]; l.Error != nil || l.SHA256 == "" {
			t.Fatalf("%s: %+v", name, l)
		}
	}
	if by["pad"].SHA256 == by["default"].SHA256 {
		t.Error(`{"crop": "pad"} gave the same picture as the default crop`)
	}
	if by["center"].SHA256 != by["default"].SHA256 {
		t.Error(`{"crop": "center"} gave another picture than the default (center)`)
	}
	for name, want := range map[string]string{"bad": `"diagonal"`, "account": "--account shop"} {
		if l := by[name]; l.Error == nil || l.Error.Code != "bad_metadata" || !strings.Contains(l.Error.Message, want) {
			t.Errorf("%s: %+v, want bad_metadata naming %s", name, l, want)
		}
	}
}
