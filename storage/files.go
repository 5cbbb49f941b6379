package storage

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// tempPattern names the temporary files that become objects or downloads
// once complete: hidden, so that List and folder watchers skip them.
const tempPattern = ".mediaprep-*.part"

// copyToTemp writes body to a new hidden file in dir, checks that it holds
// want bytes (any number when want < 0), syncs and closes it, and returns
// its path and size. On error nothing is left behind.
func copyToTemp(ctx context.Context, dir string, body io.Reader, want int64) (path string, n int64, err error) {
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return "", 0, err
	}
	n, err = fill(ctx, f, body, want)
	if err != nil {
		os.Remove(f.Name())
		return "", n, err
	}
	return f.Name(), n, nil
}

// fill copies body to the new file f, checks that it got want bytes (any
// number when want < 0), makes it readable by the group, syncs and closes
// it. f is closed on error too.
func fill(ctx context.Context, f *os.File, body io.Reader, want int64) (n int64, err error) {
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	n, err = io.Copy(f, ctxReader{ctx, body})
	if err != nil {
		return n, err
	}
	if want >= 0 && n != want {
		return n, fmt.Errorf("got %d bytes, want %d", n, want)
	}
	if err = f.Chmod(0o640); err != nil {
		return n, err
	}
	if err = f.Sync(); err != nil {
		return n, err
	}
	return n, f.Close()
}

// writeFile writes body to the file dst through a temporary file in the
// same folder that is renamed to dst once complete and synced, so dst never
// holds part of body.
func writeFile(ctx context.Context, dst string, body io.Reader, want int64) (int64, error) {
	tmp, n, err := copyToTemp(ctx, filepath.Dir(dst), body, want)
	if err != nil {
		return n, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return n, err
	}
	return n, nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// escapeKey escapes each segment of key for a URL path, keeping the slashes
// between them; '+' is escaped too, since some servers decode it as a space.
func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
	}
	return strings.Join(segs, "/")
}

// openSource opens the file at path that PutFile stores under key, with its
// FileInfo; anything but a regular file is refused. The caller closes it.
func openSource(key, path string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("storage: put %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("storage: put %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("storage: put %s: %s is not a regular file", key, path)
	}
	return f, fi, nil
}
