package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"
)

// errLowDisk: the data dir's disk has less free space than MinFreeBytes.
var errLowDisk = errors.New("service: low on disk space")

// checkDisk fails when SpoolDir's disk has less than MinFreeBytes free.
func (a *API) checkDisk(context.Context) error {
	free, err := a.cfg.FreeSpace(a.cfg.SpoolDir)
	if err != nil {
		return fmt.Errorf("free space of %s: %w", a.cfg.SpoolDir, err)
	}
	if free < a.cfg.MinFreeBytes {
		return fmt.Errorf("%w: %d bytes free in %s, want at least %d", errLowDisk, free, a.cfg.SpoolDir, a.cfg.MinFreeBytes)
	}
	return nil
}

// statfsFree returns the bytes of dir's disk that this process may use.
func statfsFree(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// isNoSpace reports a full disk or quota.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, errLowDisk)
}

// noSpace is the answer while the disk is full: nothing was kept.
func noSpace(cause error) *apiError {
	return &apiError{status: http.StatusInsufficientStorage, Code: codeNoSpace,
		Message: "the server is out of disk space; nothing was kept; try again later", retryAfter: retryUnavailable, cause: cause}
}
