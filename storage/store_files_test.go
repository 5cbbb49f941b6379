package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/storage/s3test"
)

func newStore(t *testing.T) (*storage.Store, *s3test.Server) {
	t.Helper()
	srv := s3test.Start(t)
	cfg := srv.Config()
	cfg.PartSize = 5 << 20
	st, err := storage.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st, srv
}

func TestStoreList(t *testing.T) {
	st, srv := newStore(t)
	storage.SetListPageSize(st, 5)
	var want []string
	for i := range 12 {
		want = append(want, fmt.Sprintf("inbox/%02d.jpg", i))
	}
	for _, k := range append(slices.Clone(want), "inboxes/x.jpg", "statuses/s.mp4") {
		if _, err := st.Put(t.Context(), k, strings.NewReader(k), storage.Object{ContentType: "image/jpeg", Size: int64(len(k))}); err != nil {
			t.Fatal(err)
		}
	}
	// An upload in progress is not an object yet.
	if _, err := srv.Client().CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{
		Bucket: aws.String(srv.Bucket), Key: aws.String("inbox/uploading.mp4"),
	}); err != nil {
		t.Fatal(err)
	}

	// The server honours MaxKeys, so List below reads three pages.
	page, err := srv.Client().ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{
		Bucket: aws.String(srv.Bucket), Prefix: aws.String("inbox/"), MaxKeys: aws.Int32(5),
	})
	if err != nil || !aws.ToBool(page.IsTruncated) || len(page.Contents) != 5 {
		t.Fatalf("a page of 5 keys: %v", err)
	}

	objs, err := st.List(t.Context(), "inbox/")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
		if o.Size != int64(len(o.Key)) || o.ETag == "" || strings.Contains(o.ETag, `"`) || o.LastModified.IsZero() {
			t.Errorf("List: %+v", o)
		}
	}
	if !slices.Equal(keys, want) {
		t.Errorf("List(inbox/) = %q, want %q", keys, want)
	}
	if objs, err := st.List(t.Context(), "failed/"); err != nil || len(objs) != 0 {
		t.Errorf("List(failed/) = %v, %v", objs, err)
	}
	if objs, err := st.List(t.Context(), ""); err != nil || len(objs) != 14 {
		t.Errorf("List of the whole bucket: %d objects, %v", len(objs), err)
	}
}

func TestStoreDownload(t *testing.T) {
	st, _ := newStore(t)
	data := randomBytes(7<<20 + 3) // uploaded in two parts
	put, err := st.Put(t.Context(), "inbox/clip.mp4", bytes.NewReader(data), storage.Object{
		ContentType: "video/mp4", Size: -1, FileName: "пляж.mp4", Metadata: map[string]string{"Caption": "hi"},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	dst := filepath.Join(out, "clip.mp4")
	obj, err := st.Download(t.Context(), "inbox/clip.mp4", dst)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Error("downloaded content differs")
	}
	look, _, _ := st.Lookup(t.Context(), "inbox/clip.mp4")
	if obj.Key != "inbox/clip.mp4" || obj.ContentType != "video/mp4" || obj.FileName != "пляж.mp4" || obj.Metadata["caption"] != "hi" ||
		obj.Size != int64(len(data)) || obj.LastModified.IsZero() || obj.ETag == "" || obj.ETag != look.ETag || obj.ETag != put.ETag {
		t.Errorf("Download = %+v; Lookup = %+v; Put = %+v", obj, look, put)
	}

	_, err = st.Download(t.Context(), "inbox/missing.mp4", filepath.Join(out, "missing.mp4"))
	if !errors.Is(err, storage.ErrNotFound) || storage.CodeOf(err) != storage.CodeNotFound {
		t.Errorf("Download of a missing key = %v", err)
	}
	if f := files(t, out); !slices.Equal(f, []string{"clip.mp4"}) {
		t.Errorf("files in the download folder: %q", f)
	}
}

func TestStoreMove(t *testing.T) {
	st, _ := newStore(t)
	from, to := "inbox/a b+c (1).mp4", "failed/2026/a b+c (1).mp4" // keys that need escaping in CopySource
	if _, err := st.Put(t.Context(), from, strings.NewReader("video"), storage.Object{
		ContentType: "video/mp4", Size: -1, FileName: "a.mp4", Metadata: map[string]string{"caption": "x"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Move(t.Context(), from, to); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := st.Lookup(t.Context(), from); ok || err != nil {
		t.Errorf("Lookup of the source after Move = %v, %v", ok, err)
	}
	obj, ok, err := st.Lookup(t.Context(), to)
	if err != nil || !ok || obj.ContentType != "video/mp4" || obj.FileName != "a.mp4" || obj.Metadata["caption"] != "x" || obj.Size != 5 {
		t.Errorf("Lookup after Move = %+v, %v, %v", obj, ok, err)
	}
	if err := st.Move(t.Context(), to, to); err != nil {
		t.Errorf("Move onto itself: %v", err)
	}
	if err := st.Move(t.Context(), "inbox/missing.mp4", "failed/missing.mp4"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Move of a missing key = %v", err)
	}
	if err := st.Move(t.Context(), "inbox/missing.mp4", "inbox/missing.mp4"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Move of a missing key onto itself = %v", err)
	}
}

func TestStorePutFile(t *testing.T) {
	st, _ := newStore(t)
	src := filepath.Join(t.TempDir(), "prepared.mp4")
	data := randomBytes(20 << 20)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(key string) {
		t.Helper()
		dst := filepath.Join(t.TempDir(), "back.mp4")
		obj, err := st.Download(t.Context(), key, dst)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
			t.Errorf("%s: stored content differs", key)
		}
		if obj.ContentType != "video/mp4" || obj.FileName != "clip.mp4" || obj.Metadata["kind"] != "video" {
			t.Errorf("%s: %+v", key, obj)
		}
	}
	meta := storage.Object{ContentType: "video/mp4", Size: -1, FileName: "clip.mp4", Metadata: map[string]string{"kind": "video"}}

	// One PutObject that streams the file: it must not allocate anything
	// like the file's size.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	obj, err := st.PutFile(t.Context(), "statuses/single.mp4", src, meta)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != int64(len(data)) || obj.Key != "statuses/single.mp4" || obj.ETag == "" {
		t.Errorf("PutFile = %+v", obj)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(data))/4 {
		t.Errorf("PutFile of %d MiB allocated %d MiB", len(data)>>20, alloc>>20)
	} else {
		t.Logf("PutFile of %d MiB allocated %d KiB", len(data)>>20, alloc>>10)
	}
	check("statuses/single.mp4")

	// Above the single-request limit, the multipart path.
	storage.SetPutFileLimit(st, 1<<20)
	if _, err := st.PutFile(t.Context(), "statuses/multi.mp4", src, meta); err != nil {
		t.Fatal(err)
	}
	check("statuses/multi.mp4")

	if got, err := os.ReadFile(src); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the source is not left in place: %v", err)
	}
	if _, err := st.PutFile(t.Context(), "statuses/none.mp4", filepath.Join(t.TempDir(), "none"), meta); err == nil {
		t.Error("PutFile of a missing file succeeded")
	}
}
