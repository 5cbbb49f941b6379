package storage

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// metaDir is the hidden folder under a Dir's root that holds the metadata
// of its objects: metaDir/<key>.json.
const metaDir = ".meta"

// DirConfig configures a Dir. Zero Prefix and CacheControl take their
// defaults.
type DirConfig struct {
	Root          string // folder of the objects; created (0750) if missing
	Prefix        string // key prefix of prepared files, default "statuses"; MediaHandler serves only keys under it
	PublicBaseURL string // required: the service's own URL; links are PublicBaseURL + "/media/" + key
	CacheControl  string // default "public, max-age=604800, immutable" (keys are content-addressed)
}

func (c DirConfig) withDefaults() DirConfig {
	def := NewDefaultConfig()
	c.Prefix = cmp.Or(c.Prefix, def.Prefix)
	c.CacheControl = cmp.Or(c.CacheControl, def.CacheControl)
	return c
}

// Validate reports every bad setting at once.
func (c DirConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Root == "" {
		errs = append(errs, errors.New("storage: DirConfig.Root: no folder"))
	}
	if strings.Trim(c.Prefix, "/") != c.Prefix || !plainKey(c.Prefix) || checkKey(c.Prefix) != nil {
		errs = append(errs, fmt.Errorf("storage: DirConfig.Prefix: %q must be plain ASCII (letters, digits, - _ . /) without a leading or trailing slash or hidden folders", c.Prefix))
	}
	u, err := url.Parse(c.PublicBaseURL)
	if c.PublicBaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("storage: DirConfig.PublicBaseURL: links need an http(s) base URL without a query, got %q", c.PublicBaseURL))
	}
	return errors.Join(errs...)
}

// Dir keeps objects as files in a local folder: the same surface as Store,
// for a service without object storage, which then serves the links itself
// (see MediaHandler). The object at key is the file Root/key; its content
// type, file name, cache control and metadata are in Root/.meta/key.json. A
// file dropped into the folder by hand is an object too, without that
// metadata. Keys are slash-separated and never have hidden (".") or empty
// segments. Writes go to a hidden temporary file that is renamed once
// complete, so no partial object is ever visible. It is safe for concurrent
// use within a process; concurrent writes of one key end with one of them,
// whole and with its own metadata. Every access to the files goes through
// the os.Root of the key's top folder (its first segment), and of .meta for
// the metadata: a symbolic link below it is never followed out of it (see
// dirroot.go). A read through such a link finds no object; a write, Move or
// PutFile it would lead out is refused with an error matching ErrBadKey. A
// top folder may itself be a symbolic link (inbox/ on another disk).
type Dir struct {
	cfg  DirConfig
	root string // absolute
	base string // PublicBaseURL without a trailing slash

	// mu is held while an object and its metadata change together (the end
	// of a write, Move, Delete), so that they stay a pair. Copying the
	// content happens before, without it.
	mu sync.Mutex
}

// NewDir validates cfg, creates the folder if needed and returns a Dir.
func NewDir(cfg DirConfig) (*Dir, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("storage: dir %s: %w", cfg.Root, err)
	}
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("storage: dir: %w", err)
	}
	return &Dir{cfg: cfg, root: root, base: strings.TrimSuffix(cfg.PublicBaseURL, "/")}, nil
}

// String describes the Dir for logs.
func (d *Dir) String() string { return d.root }

// Key returns the key of a prepared file, as Store.Key does.
func (d *Dir) Key(digest, slug, ext string) string {
	return keyOf(d.cfg.Prefix, digest, slug, ext)
}

// Path returns the file of key. It refuses, with an error matching
// ErrBadKey, a key that is empty, absolute, or has an empty or hidden
// segment ("", ".", "..", ".meta", ".x"), a backslash or a NUL: such a key
// could leave the folder or reach the Dir's own files.
func (d *Dir) Path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrBadKey)
	}
	if strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("%w: %q has a backslash or NUL", ErrBadKey, key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg[0] == '.' {
			return fmt.Errorf("%w: %q has an empty or hidden segment", ErrBadKey, key)
		}
	}
	return nil
}

func (d *Dir) metaPath(key string) string {
	return filepath.Join(d.root, metaDir, filepath.FromSlash(key)+".json")
}

// dirMeta is what a Dir keeps about an object besides its bytes.
type dirMeta struct {
	ContentType  string            `json:"content_type,omitempty"`
	FileName     string            `json:"file_name,omitempty"`
	CacheControl string            `json:"cache_control,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// readMeta returns the metadata of key, and false when it has none.
func (d *Dir) readMeta(key string) (dirMeta, bool, error) {
	var m dirMeta
	r, name, err := d.metaWithin(key, false)
	if isMissing(err) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	defer r.Close()
	b, err := r.ReadFile(name)
	if isMissing(err) || isEscape(err) { // metadata through a link out of .meta is none of the Dir's
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, false, fmt.Errorf("%s: %w", d.metaPath(key), err)
	}
	return m, true, nil
}

func (d *Dir) writeMeta(key string, m dirMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	r, name, err := d.metaWithin(key, true)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.MkdirAll(filepath.Dir(name), 0o750); err != nil {
		return escapes(key, err)
	}
	_, err = writeFileIn(context.Background(), r, name, bytes.NewReader(b), int64(len(b)))
	return escapes(key, err)
}

func (d *Dir) removeMeta(key string) error {
	r, name, err := d.metaWithin(key, false)
	if isMissing(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer r.Close()
	// Metadata through a link out of .meta is none of the Dir's.
	if err := r.Remove(name); err != nil && !isMissing(err) && !isEscape(err) {
		return err
	}
	return nil
}

// object is the Object of the file fi at key with metadata m.
func object(key string, fi fs.FileInfo, m dirMeta) Object {
	return Object{
		Key:          key,
		ContentType:  m.ContentType,
		Size:         fi.Size(),
		FileName:     m.FileName,
		Metadata:     m.Metadata,
		LastModified: fi.ModTime(),
		ETag:         fileETag(fi),
	}
}

// fileETag identifies a version of a file by its size and modification
// time, as HTTP file servers do.
func fileETag(fi fs.FileInfo) string {
	return fmt.Sprintf("%x-%x", fi.Size(), fi.ModTime().UnixNano())
}

// stat returns the file of key, or ok false when key holds no object: no
// file, a folder, a symbolic link or another special file, or a path
// through a symbolic link that leads out of the key's top folder.
func (d *Dir) stat(key string) (p string, fi fs.FileInfo, ok bool, err error) {
	p, err = d.Path(key)
	if err != nil {
		return "", nil, false, err
	}
	r, rest, err := d.within(key, false)
	if err == nil {
		defer r.Close()
		fi, err = r.Lstat(rest)
	}
	if isMissing(err) || isEscape(err) {
		return p, nil, false, nil
	}
	if err != nil {
		return p, nil, false, err
	}
	return p, fi, fi.Mode().IsRegular(), nil
}

// within opens the top folder of key (its first segment; the Dir's root
// for a key of one segment) as an os.Root, and returns the rest of key as
// a path inside it. Whatever is reached through it stays inside that
// folder: a symbolic link below it (dropped into inbox/, say) cannot lead
// out. The top folder itself may be a symbolic link (inbox/ on another
// disk), which is the operator's choice, not a writer's. With create, a
// missing top folder is created.
func (d *Dir) within(key string, create bool) (*os.Root, string, error) {
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	top, rest, ok := strings.Cut(key, "/")
	if !ok {
		top, rest = ".", key
	}
	r, err := d.openTop(top, create)
	if err != nil {
		return nil, "", err
	}
	return r, filepath.FromSlash(rest), nil
}

// isEscape reports an os.Root refusing a path that leads out of it.
func isEscape(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

// openWithin opens the regular file of key through its top folder (see
// within).
func (d *Dir) openWithin(key string) (*os.File, error) {
	r, rest, err := d.within(key, false)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := r.Open(rest)
	if isEscape(err) {
		return nil, fmt.Errorf("%w: %s leads out of its folder", fs.ErrNotExist, key)
	}
	return f, err
}

// Ping checks that the folder is a directory the Dir can write to: it
// creates a new hidden file in it and removes it, through an os.Root like
// every other access (dirroot.go).
func (d *Dir) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := d.openTop(".", false)
	if err != nil {
		return opError("ping", d.root, err)
	}
	defer r.Close()
	name := tempName(".")
	f, err := r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return opError("ping", d.root, err)
	}
	f.Close()
	_ = r.Remove(name) // best effort: the folder took a new file, which is what Ping asks
	return nil
}

// Lookup returns the object at key, and false when there is none.
func (d *Dir) Lookup(ctx context.Context, key string) (Object, bool, error) {
	if err := ctx.Err(); err != nil {
		return Object{}, false, err
	}
	_, fi, ok, err := d.stat(key)
	if err != nil || !ok {
		return Object{}, false, wrapDirErr("head", key, err)
	}
	m, _, err := d.readMeta(key)
	if err != nil {
		return Object{}, false, opError("head", key, err)
	}
	return object(key, fi, m), true, nil
}

// Put writes body to key with obj's content type, file name and metadata
// (names lower-cased, as S3 does). obj.Size may be -1 when unknown; any
// other size must match body. On error nothing is left under key.
func (d *Dir) Put(ctx context.Context, key string, body io.Reader, obj Object) (Object, error) {
	if obj.ContentType == "" {
		return Object{}, fmt.Errorf("storage: put %s: no content type", key)
	}
	if err := checkKey(key); err != nil {
		return Object{}, err
	}
	r, rest, err := d.prepare(key)
	if err != nil {
		return Object{}, opError("put", key, err)
	}
	defer r.Close()
	tmp, _, err := copyToTempIn(ctx, r, filepath.Dir(rest), body, obj.Size)
	if err != nil {
		return Object{}, opError("put", key, escapes(key, err))
	}
	return d.commit(key, r, rest, tmp, obj)
}

// PutFile stores the file at path under key, like Put, and leaves it in
// place. On the same file system the object is a hard link to it (no copy),
// so the caller must not rewrite the file in place afterwards (removing or
// replacing it is fine); elsewhere the file is copied.
func (d *Dir) PutFile(ctx context.Context, key, path string, obj Object) (Object, error) {
	if obj.ContentType == "" {
		return Object{}, fmt.Errorf("storage: put %s: no content type", key)
	}
	if err := checkKey(key); err != nil {
		return Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	src, fi, err := openSource(key, path)
	if err != nil {
		return Object{}, err
	}
	defer src.Close()
	r, rest, err := d.prepare(key)
	if err != nil {
		return Object{}, opError("put", key, err)
	}
	defer r.Close()
	dir := filepath.Dir(rest)
	tmp, err := linkTempIn(src, r, dir)
	if err != nil && !isEscape(err) { // another file system, or one without hard links
		tmp, _, err = copyToTempIn(ctx, r, dir, src, fi.Size())
	}
	if err != nil {
		return Object{}, opError("put", key, escapes(key, err))
	}
	return d.commit(key, r, rest, tmp, obj)
}

// commit makes the complete file tmp the object at key (file name), both in
// the top folder r of key: metadata first, so that the object never appears
// without it.
func (d *Dir) commit(key string, r *os.Root, name, tmp string, obj Object) (Object, error) {
	m := dirMeta{ContentType: obj.ContentType, FileName: obj.FileName, CacheControl: d.cfg.CacheControl}
	if len(obj.Metadata) > 0 {
		m.Metadata = make(map[string]string, len(obj.Metadata))
		for k, v := range obj.Metadata {
			m.Metadata[strings.ToLower(k)] = v
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, _, existed, _ := d.stat(key)
	err := d.writeMeta(key, m)
	if err == nil {
		err = r.Rename(tmp, name)
		if err != nil && !existed {
			_ = d.removeMeta(key) // best effort: the rename's error is the one to report
		}
	}
	if err != nil {
		_ = r.Remove(tmp) // best effort, as above
		return Object{}, opError("put", key, escapes(key, err))
	}
	fi, err := r.Lstat(name)
	if err != nil {
		return Object{}, opError("put", key, err)
	}
	return object(key, fi, m), nil
}

// List returns every object whose key starts with prefix (e.g. "inbox/"),
// in key order, with Key, Size, LastModified and ETag set. Hidden files and
// folders (the metadata, temporary files of writes in progress), folders,
// and symbolic links are not objects. A prefix whose folder does not exist,
// or is reached through a symbolic link out of its top folder, has no
// objects.
func (d *Dir) List(ctx context.Context, prefix string) ([]Object, error) {
	top, start, err := listFolders(prefix)
	if err != nil {
		return nil, err
	}
	// The walk goes through the os.Root of the top folder, which may be a
	// symbolic link itself (inbox/ on another disk), as may the folder it
	// starts from if it leads to one inside the top folder.
	r, err := d.openTop(top, false)
	if isMissing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, opError("list", prefix, err)
	}
	defer r.Close()
	keyAt := func(p string) string { return p }
	if top != "." {
		keyAt = func(p string) string { return top + "/" + p }
	}
	var objs []Object
	err = fs.WalkDir(r.FS(), start, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if isMissing(err) || isEscape(err) {
				return nil // gone since, never there, or not the Dir's
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if path != start && strings.HasPrefix(e.Name(), ".") {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		key := keyAt(path)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := e.Info()
		if isMissing(err) {
			return nil
		}
		if err != nil {
			return err
		}
		objs = append(objs, Object{Key: key, Size: fi.Size(), LastModified: fi.ModTime(), ETag: fileETag(fi)})
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, opError("list", prefix, err)
	}
	// WalkDir visits "a/b" before "a-c"; keys sort the other way.
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

// Download copies the object at key to the file dst and returns its
// metadata, as Lookup does. The copy goes to a hidden temporary file next to
// dst, synced and then renamed to dst, so dst is either the whole object or
// untouched. A missing key is an error matching ErrNotFound.
func (d *Dir) Download(ctx context.Context, key, dst string) (Object, error) {
	_, _, ok, err := d.stat(key)
	if err != nil || !ok {
		if err == nil {
			err = notFound("download", key)
		}
		return Object{}, wrapDirErr("download", key, err)
	}
	m, _, err := d.readMeta(key)
	if err != nil {
		return Object{}, opError("download", key, err)
	}
	f, err := d.openWithin(key)
	if err != nil {
		return Object{}, wrapDirErr("download", key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Object{}, opError("download", key, err)
	}
	if !fi.Mode().IsRegular() {
		return Object{}, notFound("download", key)
	}
	if _, err := writeFile(ctx, dst, f, fi.Size()); err != nil {
		if ctx.Err() != nil {
			return Object{}, ctx.Err()
		}
		return Object{}, opError("download", key, err)
	}
	return object(key, fi, m), nil
}

// Move renames the object at from, with its metadata, to to. A missing from
// is an error matching ErrNotFound.
func (d *Dir) Move(ctx context.Context, from, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(to); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, _, ok, err := d.stat(from)
	if err != nil || !ok {
		if err == nil {
			err = notFound("move", from)
		}
		return wrapDirErr("move", from, err)
	}
	if from == to {
		return nil
	}
	m, hasMeta, err := d.readMeta(from)
	if err != nil {
		return opError("move", from, err)
	}
	// The folder of to first, so that a to that cannot be gets no metadata.
	tr, trest, err := d.prepare(to)
	if err != nil {
		return opError("move "+from+" to", to, err)
	}
	defer tr.Close()
	// The metadata goes first, so that to never appears without it.
	if hasMeta {
		err = d.writeMeta(to, m)
	} else {
		err = d.removeMeta(to)
	}
	if err == nil {
		err = d.renameWithin(from, tr, trest)
	}
	if err != nil {
		return opError("move "+from+" to", to, err)
	}
	if err := d.removeMeta(from); err != nil {
		return opError("move "+from+" to", to, err)
	}
	d.pruneEmpty(from)
	return nil
}

// renameWithin renames the file of from, reached through its top folder
// (see within), to trest in the root tr (see prepare): the parent folders
// are opened through os.Root and the rename is done relative to them, so
// that a symbolic link swapped in meanwhile cannot move a file from or to
// elsewhere.
func (d *Dir) renameWithin(from string, tr *os.Root, trest string) error {
	fr, frest, err := d.within(from, false)
	if err != nil {
		return err
	}
	defer fr.Close()
	fdir, err := fr.Open(filepath.Dir(frest))
	if err != nil {
		return err
	}
	defer fdir.Close()
	tdir, err := tr.Open(filepath.Dir(trest))
	if err != nil {
		return err
	}
	defer tdir.Close()
	if err := unix.Renameat(int(fdir.Fd()), filepath.Base(frest), int(tdir.Fd()), filepath.Base(trest)); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: filepath.Join(tr.Name(), trest), Err: err}
	}
	return nil
}

// pruneEmpty removes the folders of key (and of its metadata) that are
// empty now, below the key's top folder: uploads/ID/ goes once its file has
// moved on, inbox/ itself stays. Each folder is removed through the top
// folder's os.Root (and .meta's), and only if it is an empty folder: never
// a symbolic link, nor a folder it leads to.
func (d *Dir) pruneEmpty(key string) {
	if !strings.Contains(path.Dir(key), "/") {
		return
	}
	r, _, err := d.within(key, false)
	if err != nil {
		return
	}
	defer r.Close()
	mr, _, err := d.metaWithin(key, false)
	if err == nil {
		defer mr.Close()
	}
	for dir := path.Dir(key); strings.Contains(dir, "/"); dir = path.Dir(dir) {
		if mr != nil {
			_ = removeEmptyDir(mr, filepath.FromSlash(dir))
		}
		_, rest, _ := strings.Cut(dir, "/")
		if removeEmptyDir(r, filepath.FromSlash(rest)) != nil {
			return
		}
	}
}

// Delete removes the object at key and its metadata; a missing object is
// not an error.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, fi, _, err := d.stat(key)
	if err != nil {
		return wrapDirErr("delete", key, err)
	}
	if fi != nil && !fi.IsDir() {
		if err := d.removeWithin(key); err != nil && !isMissing(err) {
			return opError("delete", key, err)
		}
	}
	if err := d.removeMeta(key); err != nil {
		return opError("delete", key, err)
	}
	d.pruneEmpty(key)
	return nil
}

// removeWithin removes the file of key through its top folder (see within).
func (d *Dir) removeWithin(key string) error {
	r, rest, err := d.within(key, false)
	if err != nil {
		return err
	}
	defer r.Close()
	return r.Remove(rest)
}

// Link returns PublicBaseURL + "/media/" + key, each segment of key escaped.
// It does not check that the object exists; MediaHandler serves only keys
// under Prefix.
func (d *Dir) Link(ctx context.Context, key string) (Link, error) {
	if err := checkKey(key); err != nil {
		return Link{}, err
	}
	return Link{URL: d.base + "/media/" + escapeKey(key)}, nil
}

// isMissing reports whether err says a file is not there, including a path
// through a file ("a.jpg/b").
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// wrapDirErr passes nil, bad keys and not-found errors through and wraps
// the rest with opError.
func wrapDirErr(op, key string, err error) error {
	switch {
	case err == nil, errors.Is(err, ErrBadKey), errors.Is(err, ErrNotFound):
		return err
	case isMissing(err):
		return notFound(op, key)
	}
	return opError(op, key, err)
}

// listFolders splits the folder part of a listing's prefix into its top
// folder (whose os.Root the walk goes through) and the folder below it
// the walk starts from; "." for either when the prefix has none.
func listFolders(prefix string) (top, start string, err error) {
	i := strings.LastIndex(prefix, "/")
	if i < 0 {
		return ".", ".", nil
	}
	dir := prefix[:i]
	if err := checkKey(dir); err != nil {
		return "", "", err
	}
	top, start, below := strings.Cut(dir, "/")
	if !below {
		start = "."
	}
	return top, start, nil
}
