package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/batch"
	"github.com/mediaprep/mediaprep/internal/testutil/memqueue"
)

// TestSidecarSameInInboxAndBatch: the same NAME.EXT.json bytes read by the
// inbox and by `mediaprep batch` (batch.ReadSidecar) give the same fields,
// or are refused by both with the same message.
func TestSidecarSameInInboxAndBatch(t *testing.T) {
	dir, root := newTestDir(t)
	in := newTestInbox(t, dir, memqueue.New(), testSettle)
	for _, tt := range []struct {
		name, sidecar string
		want          string // the fields read, or the refusal
	}{
		{"all fields", `{"caption": "Sale!", "participants": ["79001234567@c.us"], "backgroundColor": "#228B22",
			"crop": "pad", "videoFit": "crop", "publishAt": 1796112000, "account": "shop"}`,
			"Sale! [79001234567@c.us] #228B22 pad crop 1796112000 shop"},
		{"some fields", `{"caption": "hi", "crop": "smart"}`, "hi [] _ smart _ _ _"},
		{"unknown field", `{"caption": "hi", "captoin": "typo"}`,
			`sidecar a.jpg.json: json: unknown field "captoin" (want a JSON object of caption, participants, backgroundColor, crop, videoFit, publishAt, account)`},
		{"over the limit", `{"caption": "` + strings.Repeat("x", batch.MaxSidecar) + `"}`, "byte limit"},
		{"bad crop", `{"crop": "diagonal"}`, `crop mode "diagonal" is not one of center, smart, pad`},
		{"broken", `{"caption": "unterminated`, "sidecar a.jpg.json: unexpected EOF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := "inbox/" + tt.name + "/a.jpg"
			put(t, root, key, "jpeg", 0)
			put(t, root, key+".json", tt.sidecar, 0)
			o, _, _ := dir.Lookup(t.Context(), key)
			req, meta, err := in.request(t.Context(), o)
			inbox := fmt.Sprintf("%s %v %s %s %s %s %s", orBlank(req.Caption), req.Participants, orBlank(req.BackgroundColor),
				orBlank(req.Crop), orBlank(req.VideoFit), orBlank(meta.publishAt), orBlank(meta.account))
			var se *batch.SidecarError
			if err != nil {
				if !errors.As(err, &se) {
					t.Fatalf("inbox: %v, want a *batch.SidecarError", err)
				}
				inbox = err.Error()
			}

			file := filepath.Join(t.TempDir(), "a.jpg.json")
			if err := os.WriteFile(file, []byte(tt.sidecar), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := batch.ReadSidecar(file)
			r := requestOfMeta(m)
			cli := fmt.Sprintf("%s %v %s %s %s %s %s", orBlank(r.Caption), r.Participants, orBlank(r.BackgroundColor),
				orBlank(r.Crop), orBlank(r.VideoFit), orBlank(deref(m.PublishAt)), orBlank(deref(m.Account)))
			if err != nil {
				if !errors.As(err, &se) {
					t.Fatalf("batch: %v, want a *batch.SidecarError", err)
				}
				cli = strings.Replace(err.Error(), file, "a.jpg.json", 1)
			}

			if !strings.Contains(inbox, tt.want) || !strings.Contains(cli, tt.want) {
				t.Errorf("inbox read %q\nbatch read %q\nwant %q in both", inbox, cli, tt.want)
			}
			if !strings.Contains(tt.want, "byte limit") && inbox != cli {
				t.Errorf("inbox read %q, batch %q", inbox, cli)
			}
		})
	}
}

func orBlank(s string) string {
	if s == "" {
		return "_"
	}
	return s
}
