package transcode

import "syscall"

// procAttr puts a program in a process group of its own, and asks Linux
// to kill it when mediaprep dies, even by SIGKILL: a worker killed in the
// middle of a transcode leaves no ffmpeg behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
