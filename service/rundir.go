package service

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// runDir makes this process's own temp folder under parent (serve and
// workers may share a data dir) and removes what processes that died
// left there: each folder holds a lock its process keeps while it runs.
func runDir(parent string) (string, func(), error) {
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return "", nil, err
	}
	old, _ := filepath.Glob(filepath.Join(parent, "run-*"))
	for _, d := range old {
		if lf, err := os.OpenFile(filepath.Join(d, ".lock"), os.O_RDWR, 0); err == nil {
			if syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
				os.RemoveAll(d) // its process is gone
			}
			lf.Close()
		} else if errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(d)
		}
	}
	// Made under a hidden name, locked, then renamed: another process
	// starting now never sees a run-* folder without its lock held.
	tmp, err := os.MkdirTemp(parent, ".new-")
	if err != nil {
		return "", nil, err
	}
	lf, err := os.Create(filepath.Join(tmp, ".lock"))
	if err == nil {
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	dir := filepath.Join(parent, "run-"+strings.TrimPrefix(filepath.Base(tmp), ".new-"))
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		if lf != nil {
			lf.Close()
		}
		os.RemoveAll(tmp)
		return "", nil, fmt.Errorf("temp folder: %w", err)
	}
	return dir, func() { os.RemoveAll(dir); lf.Close() }, nil
}

// pruneOld removes the files in dir older than age, every age/4, until
// ctx ends.
func pruneOld(ctx context.Context, dir string, age time.Duration) {
	t := time.NewTicker(age / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > age {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}

// redactURLs hides the user info (a token or password) of each URL in a
// comma-separated NATS server list.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("redacted")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
