package transcode

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProgramDiesWithItsParent kills (SIGKILL) a process in the middle of
// a run, as a worker killed mid-transcode, and checks that the program it
// ran does not live on.
func TestProgramDiesWithItsParent(t *testing.T) {
	if pidFile := os.Getenv("MEDIAPREP_TEST_ORPHAN"); pidFile != "" {
		// The child: run a program that records its pid and sleeps.
		_ = run(context.Background(), 0, nil, "sh", "-c", "echo $$ > "+pidFile+".tmp && mv "+pidFile+".tmp "+pidFile+" && exec sleep 60")
		os.Exit(0)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command(os.Args[0], "-test.run=^TestProgramDiesWithItsParent$")
	cmd.Env = append(os.Environ(), "MEDIAPREP_TEST_ORPHAN="+pidFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(20 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill() // killing a process that may have just exited: Fatal follows
			t.Fatal("the program never started")
		}
		b, err := os.ReadFile(pidFile)
		if err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	alive := func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		// A zombie waiting for init to reap it is dead too.
		f := strings.Fields(string(b))
		return len(f) > 2 && f[2] != "Z"
	}
	for deadline := time.Now().Add(10 * time.Second); alive(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("sleep (pid %d) outlived the process that ran it", pid)
		}
	}
}
