package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var updateHelp = flag.Bool("update-help", false, "rewrite testdata/help from the current --help output")

// cpuDefault is a default that follows the machine's cores: --jobs and
// --workers.
var cpuDefault = regexp.MustCompile(`(?m)^(\s+(?:-j, )?--(?:jobs|workers) int .*)\(default \d+\)$`)

// TestHelpUnchanged keeps every command's --help byte for byte: the help is
// the CLI's contract, and a refactoring of how settings are read must not
// change a flag, its default, its variable or its text. Run with
// -update-help after a deliberate change, and review the diff.
func TestHelpUnchanged(t *testing.T) {
	for _, name := range []string{"root", "prepare", "post", "batch", "statuses", "serve", "worker", "healthcheck"} {
		t.Run(name, func(t *testing.T) {
			args := []string{name, "--help"}
			if name == "root" {
				args = args[1:]
			}
			var out bytes.Buffer
			if code := run(t.Context(), args, noEnv, &out, &out); code != exitOK {
				t.Fatalf("--help exited %d: %s", code, out.String())
			}
			got := cpuDefault.ReplaceAll(out.Bytes(), []byte("${1}(default NCPU)"))
			golden := filepath.Join("testdata", "help", name+".txt")
			if *updateHelp {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s --help changed; if on purpose, run go test -run TestHelpUnchanged -update-help and review the diff.\ngot:\n%s\nwant:\n%s", name, got, want)
			}
		})
	}
}
