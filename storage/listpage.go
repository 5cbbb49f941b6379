package storage

import (
	"container/heap"
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Page is one bounded part of a listing (ListPage).
type Page struct {
	// Objects are at most the limit asked for, in key order.
	Objects []Object
	// Next is the key to list after for the rest (the last of Objects),
	// or "" when the listing reached its end.
	Next string
	// Left is how many objects come after Objects, or -1 when the store
	// cannot tell without listing them (S3).
	Left int
}

// dirBatch is how many entries of a folder Dir.ListPage reads at once.
const dirBatch = 256

// ListPage returns at most limit objects under prefix whose keys sort after
// after ("" from the start), in key order, as List does; Page.Next resumes.
// It holds at most a page of ListObjectsV2 (limit, or 1000) in memory,
// whatever the number of objects under prefix.
func (s *Store) ListPage(ctx context.Context, prefix, after string, limit int) (Page, error) {
	if limit <= 0 {
		return Page{}, errors.New("storage: ListPage: limit must be positive")
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(prefix),
		MaxKeys: aws.Int32(int32(min(limit, 1000)))}
	if s.listPageSize > 0 {
		in.MaxKeys = aws.Int32(min(s.listPageSize, *in.MaxKeys))
	}
	if after != "" {
		in.StartAfter = aws.String(after)
	}
	var objs []Object
	for p := s3.NewListObjectsV2Paginator(s.s3, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return Page{}, opError("list", prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue
			}
			if len(objs) == limit {
				return Page{Objects: objs, Next: objs[len(objs)-1].Key, Left: -1}, nil
			}
			objs = append(objs, Object{
				Key:          key,
				Size:         aws.ToInt64(o.Size),
				LastModified: aws.ToTime(o.LastModified),
				ETag:         strings.Trim(aws.ToString(o.ETag), `"`),
			})
		}
	}
	return Page{Objects: objs}, nil
}

// ListPage returns at most limit objects under prefix whose keys sort after
// after ("" from the start), in key order, as List does; Page.Next resumes.
// It reads folders dirBatch entries at a time and keeps only the limit
// smallest keys, so memory stays bounded by limit however many files a
// folder holds; it still looks at every file, and so can tell Page.Left.
func (d *Dir) ListPage(ctx context.Context, prefix, after string, limit int) (Page, error) {
	if limit <= 0 {
		return Page{}, errors.New("storage: ListPage: limit must be positive")
	}
	top, start, err := listFolders(prefix)
	if err != nil {
		return Page{}, err
	}
	r, err := d.openTop(top, false)
	if isMissing(err) {
		return Page{}, nil
	}
	if err != nil {
		return Page{}, opError("list", prefix, err)
	}
	defer r.Close()
	keyAt := func(p string) string { return p }
	if top != "." {
		keyAt = func(p string) string { return top + "/" + p }
	}
	fsys := r.FS()
	kept := &objectHeap{}
	left := 0
	var walk func(dir string) error
	walk = func(dir string) error {
		f, err := fsys.Open(dir)
		if isMissing(err) || isEscape(err) {
			return nil // gone since, never there, or not the Dir's
		}
		if err != nil {
			return err
		}
		defer f.Close()
		rd, ok := f.(fs.ReadDirFile)
		if !ok {
			return nil // not a folder
		}
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			es, err := rd.ReadDir(dirBatch)
			for _, e := range es {
				if strings.HasPrefix(e.Name(), ".") {
					continue // metadata, writes in progress, hidden files
				}
				p := e.Name()
				if dir != "." {
					p = dir + "/" + p
				}
				if e.IsDir() {
					if err := walk(p); err != nil {
						return err
					}
					continue
				}
				key := keyAt(p)
				if !e.Type().IsRegular() || !strings.HasPrefix(key, prefix) || key <= after {
					continue
				}
				if kept.Len() == limit && key > (*kept)[0].Key {
					left++
					continue
				}
				fi, err := e.Info()
				if isMissing(err) {
					continue
				}
				if err != nil {
					return err
				}
				heap.Push(kept, Object{Key: key, Size: fi.Size(), LastModified: fi.ModTime(), ETag: fileETag(fi)})
				if kept.Len() > limit {
					heap.Pop(kept)
					left++
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	}
	if err := walk(start); err != nil {
		if ctx.Err() != nil {
			return Page{}, ctx.Err()
		}
		return Page{}, opError("list", prefix, err)
	}
	objs := []Object(*kept)
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	p := Page{Objects: objs, Left: left}
	if left > 0 {
		p.Next = objs[len(objs)-1].Key
	}
	return p, nil
}

// objectHeap is a max-heap of objects by key: its top is the one to drop
// when a smaller key comes.
type objectHeap []Object

func (h objectHeap) Len() int           { return len(h) }
func (h objectHeap) Less(i, j int) bool { return h[i].Key > h[j].Key }
func (h objectHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *objectHeap) Push(x any)        { *h = append(*h, x.(Object)) }
func (h *objectHeap) Pop() any {
	old := *h
	o := old[len(old)-1]
	*h = old[:len(old)-1]
	return o
}
