package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// sidecar is the JSON of NAME.EXT.json next to a dropped file: the fields
// of `mediaprep batch` sidecars, plus the preparation options.
type sidecar struct {
	Caption         string        `json:"caption"`
	Participants    []string      `json:"participants"`
	BackgroundColor string        `json:"backgroundColor"`
	Crop            string        `json:"crop"`
	VideoFit        string        `json:"videoFit"`
	PublishAt       publishAtJSON `json:"publishAt"` // RFC 3339 or Unix seconds (schedule.go)
	Account         string        `json:"account"`   // the Green API account; default: the inbox folder's, see accountOf
}

// maxSidecar caps the bytes read of a sidecar.
const maxSidecar = 64 << 10

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

// badSidecar is a sidecar that cannot be read as options: the file fails.
type badSidecar struct{ msg string }

func (e *badSidecar) Error() string { return e.msg }

func (in *Inbox) readSidecar(ctx context.Context, sc storage.Object) (queue.Request, dropMeta, error) {
	name := path.Base(sc.Key)
	if sc.Size > maxSidecar {
		return queue.Request{}, dropMeta{}, &badSidecar{fmt.Sprintf("sidecar %s: %d bytes, over the %d byte limit", name, sc.Size, maxSidecar)}
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
	b, err := io.ReadAll(io.LimitReader(f, maxSidecar+1))
	if err != nil {
		return queue.Request{}, dropMeta{}, err
	}
	if len(b) > maxSidecar {
		return queue.Request{}, dropMeta{}, &badSidecar{fmt.Sprintf("sidecar %s: over the %d byte limit", name, maxSidecar)}
	}
	var s sidecar
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return queue.Request{}, dropMeta{}, &badSidecar{fmt.Sprintf("sidecar %s: %v (want {\"caption\", \"participants\", \"backgroundColor\", \"crop\", \"videoFit\", \"publishAt\", \"account\"})", name, err)}
	}
	return queue.Request{Caption: s.Caption, Participants: s.Participants, BackgroundColor: s.BackgroundColor,
		Crop: s.Crop, VideoFit: s.VideoFit}, dropMeta{publishAt: string(s.PublishAt), account: s.Account}, nil
}
