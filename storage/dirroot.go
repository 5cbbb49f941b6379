package storage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Every access of a Dir to its files goes through an os.Root: that of the
// key's top folder for objects (see within), that of .meta for their
// metadata (see metaWithin). A symbolic link planted below either (a folder
// of statuses/ pointing at /etc, an uploads/ID/ folder swapped for a link
// while a write is in progress) can then never make a read, write, rename,
// prune or delete land outside that folder: the os.Root refuses the path.

// openTop opens the folder top of the Dir (one segment, or "." for the
// Dir's root) as an os.Root, creating it first when create is set. The
// folder itself may be a symbolic link (inbox/ on another disk): that is
// the operator's choice.
func (d *Dir) openTop(top string, create bool) (*os.Root, error) {
	p := filepath.Join(d.root, top)
	if create && top != "." {
		if err := os.Mkdir(p, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return os.OpenRoot(p)
}

// metaWithin opens the metadata folder as an os.Root and returns the path
// of key's metadata inside it.
func (d *Dir) metaWithin(key string, create bool) (*os.Root, string, error) {
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	r, err := d.openTop(metaDir, create)
	if err != nil {
		return nil, "", err
	}
	return r, filepath.FromSlash(key) + ".json", nil
}

// escapes returns the error of a write to key that an os.Root refused
// because the path leads out of its folder through a symbolic link, and
// err itself otherwise.
func escapes(key string, err error) error {
	if isEscape(err) {
		return fmt.Errorf("%w: %s leads out of its folder through a symbolic link: %w", ErrBadKey, key, err)
	}
	return err
}

// prepare opens the top folder of key (creating it) and the folders of
// key below it, and returns the root and the path of key inside it.
func (d *Dir) prepare(key string) (*os.Root, string, error) {
	r, rest, err := d.within(key, true)
	if err != nil {
		return nil, "", escapes(key, err)
	}
	if dir := filepath.Dir(rest); dir != "." {
		if err := r.MkdirAll(dir, 0o750); err != nil {
			r.Close()
			return nil, "", escapes(key, err)
		}
	}
	return r, rest, nil
}

// tempName returns a new hidden temporary file name in dir.
func tempName(dir string) string {
	return filepath.Join(dir, strings.Replace(tempPattern, "*", rand.Text(), 1))
}

// copyToTempIn is copyToTemp for the folder dir of the root r: it returns
// the new file's path inside r. On error nothing is left behind.
func copyToTempIn(ctx context.Context, r *os.Root, dir string, body io.Reader, want int64) (name string, n int64, err error) {
	name = tempName(dir)
	f, err := r.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", 0, err
	}
	n, err = fill(ctx, f, body, want)
	if err != nil {
		_ = r.Remove(name) // best effort: the copy's error is the one to report
		return "", n, err
	}
	return name, n, nil
}

// writeFileIn is writeFile for the file name of the root r.
func writeFileIn(ctx context.Context, r *os.Root, name string, body io.Reader, want int64) (int64, error) {
	tmp, n, err := copyToTempIn(ctx, r, filepath.Dir(name), body, want)
	if err != nil {
		return n, err
	}
	if err := r.Rename(tmp, name); err != nil {
		_ = r.Remove(tmp)
		return n, err
	}
	return n, nil
}

// linkTempIn makes a hidden hard link to src in the folder dir of r, after
// syncing src; the link is made relative to dir opened through r.
func linkTempIn(src *os.File, r *os.Root, dir string) (string, error) {
	if err := src.Sync(); err != nil {
		return "", err
	}
	df, err := r.Open(dir)
	if err != nil {
		return "", err
	}
	defer df.Close()
	name := tempName(dir)
	if err := unix.Linkat(unix.AT_FDCWD, src.Name(), int(df.Fd()), filepath.Base(name), 0); err != nil {
		return "", &os.LinkError{Op: "link", Old: src.Name(), New: name, Err: err}
	}
	return name, nil
}

// removeEmptyDir removes the folder name of r if it is empty. It never
// removes a file or a symbolic link, and never follows one out of r: the
// parent is opened through r and the folder removed relative to it.
func removeEmptyDir(r *os.Root, name string) error {
	parent, err := r.Open(filepath.Dir(name))
	if err != nil {
		return err
	}
	defer parent.Close()
	return unix.Unlinkat(int(parent.Fd()), filepath.Base(name), unix.AT_REMOVEDIR)
}
