package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/storage"
)

type lister interface {
	List(ctx context.Context, prefix string) ([]storage.Object, error)
	ListPage(ctx context.Context, prefix, after string, limit int) (storage.Page, error)
}

// checkPages lists prefix limit keys at a time and checks that the pages
// together are List's answer, each at most limit long, and that Left
// (when known) counts what comes after each page.
func checkPages(t *testing.T, l lister, prefix string, limit int, knowsLeft bool) {
	t.Helper()
	all, err := l.List(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var got []storage.Object
	after := ""
	for range len(all) + 2 {
		p, err := l.ListPage(t.Context(), prefix, after, limit)
		if err != nil {
			t.Fatalf("ListPage(%q, %q, %d): %v", prefix, after, limit, err)
		}
		if len(p.Objects) > limit {
			t.Fatalf("ListPage(%q, %q, %d): %d objects", prefix, after, limit, len(p.Objects))
		}
		got = append(got, p.Objects...)
		wantLeft := len(all) - len(got)
		if !knowsLeft && wantLeft > 0 {
			wantLeft = -1
		}
		if p.Left != wantLeft {
			t.Errorf("ListPage(%q, %q, %d).Left = %d, want %d", prefix, after, limit, p.Left, wantLeft)
		}
		if p.Next == "" {
			break
		}
		if p.Next != p.Objects[len(p.Objects)-1].Key {
			t.Fatalf("Next = %q, not the page's last key", p.Next)
		}
		after = p.Next
	}
	if !slices.EqualFunc(got, all, func(a, b storage.Object) bool {
		return a.Key == b.Key && a.Size == b.Size && a.ETag == b.ETag && a.LastModified.Equal(b.LastModified)
	}) {
		t.Errorf("pages of %d under %q = %v, want %v", limit, prefix, keysOf(got), keysOf(all))
	}
}

func keysOf(objs []storage.Object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.Key)
	}
	return ks
}

func TestDirListPage(t *testing.T) {
	d := newDir(t)
	for i := range 600 { // more than one batch of a folder's entries
		k := fmt.Sprintf("inbox/%03d.jpg", (i*7)%600)
		if _, err := d.Put(t.Context(), k, strings.NewReader(k), storage.Object{ContentType: "image/jpeg", Size: int64(len(k))}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"inbox/a/b.jpg", "inbox/a-c.jpg", "inboxes/x.jpg", "statuses/s.mp4"} {
		if _, err := d.Put(t.Context(), k, strings.NewReader(k), storage.Object{ContentType: "image/jpeg", Size: int64(len(k))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(d.String(), "inbox", ".hidden.jpg"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"inbox/", "inbox", "inbox/a", "", "failed/"} {
		for _, limit := range []int{1, 7, 256, 1000} {
			checkPages(t, d, prefix, limit, true)
		}
	}
	if _, err := d.ListPage(t.Context(), "inbox/", "", 0); err == nil {
		t.Error("ListPage with limit 0: no error")
	}
}

func TestStoreListPage(t *testing.T) {
	st, _ := newStore(t)
	storage.SetListPageSize(st, 5)
	for i := range 23 {
		k := fmt.Sprintf("inbox/%02d.jpg", i)
		if _, err := st.Put(t.Context(), k, strings.NewReader(k), storage.Object{ContentType: "image/jpeg", Size: int64(len(k))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Put(t.Context(), "inboxes/x.jpg", strings.NewReader("x"), storage.Object{ContentType: "image/jpeg", Size: 1}); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 5, 7, 23, 100} {
		checkPages(t, st, "inbox/", limit, false)
	}
	checkPages(t, st, "failed/", 3, false)
}
