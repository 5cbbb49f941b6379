package service

import (
	"context"
	"fmt"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mediaprep/mediaprep/batch"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// request reads what was asked for a source: from its sidecar when there
// is one, else from its x-amz-meta-* headers (caption, participants,
// background-color, crop, video-fit; RFC 2047 words decoded).
func (in *Inbox) request(ctx context.Context, o storage.Object) (queue.Request, dropMeta, error) {
	sc, found, err := in.cfg.Bucket.Lookup(ctx, o.Key+".json")
	if err != nil {
		return queue.Request{}, dropMeta{}, err
	}
	if found {
		return in.readSidecar(ctx, sc)
	}
	md := o.Metadata
	if md == nil {
		full, found, err := in.cfg.Bucket.Lookup(ctx, o.Key)
		if err != nil || !found {
			return queue.Request{}, dropMeta{}, err
		}
		md = full.Metadata
	}
	var dec mime.WordDecoder
	get := func(names ...string) string {
		for _, n := range names {
			if v, ok := md[n]; ok {
				if d, err := dec.DecodeHeader(v); err == nil {
					return d
				}
				return v
			}
		}
		return ""
	}
	opts := queue.Request{
		Caption:         get("caption"),
		BackgroundColor: get("background-color", "backgroundcolor"),
		Crop:            get("crop"),
		VideoFit:        get("video-fit", "videofit"),
	}
	if p := get("participants"); p != "" {
		for _, s := range strings.Split(p, ",") {
			if s = strings.TrimSpace(s); s != "" {
				opts.Participants = append(opts.Participants, s)
			}
		}
	}
	return opts, dropMeta{publishAt: get("publish-at", "publishat"), account: get("account")}, nil
}

// dropMeta is what a drop's sidecar or headers say besides its options.
type dropMeta struct {
	publishAt string // raw; see Inbox.publishAt
	account   string // see Inbox.accountOf
}

// readSidecar reads a dropped file's sidecar with batch.DecodeSidecar:
// one format for the inbox and `mediaprep batch`. A sidecar that cannot
// be read is a *batch.SidecarError: the file fails with it.
func (in *Inbox) readSidecar(ctx context.Context, sc storage.Object) (queue.Request, dropMeta, error) {
	if sc.Size > batch.MaxSidecar {
		return queue.Request{}, dropMeta{}, &batch.SidecarError{Name: path.Base(sc.Key),
			Msg: fmt.Sprintf("%d bytes, over the %d byte limit", sc.Size, batch.MaxSidecar)}
	}
	tmp := filepath.Join(in.cfg.TempDir, fmt.Sprintf("sidecar-%d.json", time.Now().UnixNano()))
	defer os.Remove(tmp)
	if _, err := in.cfg.Bucket.Download(ctx, sc.Key, tmp); err != nil {
		return queue.Request{}, dropMeta{}, fmt.Errorf("sidecar %s: %w", sc.Key, err)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return queue.Request{}, dropMeta{}, err
	}
	defer f.Close()
	m, err := batch.DecodeSidecar(f, path.Base(sc.Key))
	if err != nil {
		return queue.Request{}, dropMeta{}, err
	}
	return requestOfMeta(m), dropMeta{publishAt: deref(m.PublishAt), account: deref(m.Account)}, nil
}

// requestOfMeta is what a sidecar asks for.
func requestOfMeta(m batch.Meta) queue.Request {
	return queue.Request{Caption: deref(m.Caption), Participants: m.Participants, BackgroundColor: deref(m.BackgroundColor),
		Crop: deref(m.Crop), VideoFit: deref(m.VideoFit)}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
