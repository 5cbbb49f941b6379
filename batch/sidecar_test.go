package batch

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/transcode"
)

func TestDecodeSidecar(t *testing.T) {
	big := `{"caption": "` + strings.Repeat("x", MaxSidecar) + `"}`
	for _, tt := range []struct {
		name, in string
		want     string // fmt of the fields set, or the error's text
	}{
		{"all fields", `{"caption": "Sale!", "participants": ["79001234567@c.us"], "backgroundColor": "#228B22",
			"crop": "pad", "videoFit": "crop", "publishAt": "2026-12-01T09:00:00+01:00", "account": "shop"}`,
			"Sale! [79001234567@c.us] #228B22 pad crop 2026-12-01T09:00:00+01:00 shop"},
		{"publishAt as Unix seconds", `{"publishAt": 1796112000}`, "- [] - - - 1796112000 -"},
		{"nothing set", `{}`, "- [] - - - - -"},
		{"null", `null`, "- [] - - - - -"},
		{"unknown field", `{"captoin": "typo"}`, `unknown field "captoin" (want a JSON object of ` + sidecarFields},
		{"over the limit", big, "over the 65536 byte limit"},
		{"empty", ``, "empty (want a JSON object of " + sidecarFields},
		{"not an object", `["a"]`, "cannot unmarshal array"},
		{"two objects", `{"caption": "a"} {"caption": "b"}`, "more after the JSON object"},
		{"a file", `{"file": "a.jpg"}`, `"file" belongs in a manifest (want ` + sidecarFields},
		{"bad crop", `{"crop": "diagonal"}`, `crop mode "diagonal" is not one of center, smart, pad`},
		{"bad videoFit", `{"videoFit": "stretch"}`, `video fit "stretch" is not one of keep, crop, pad`},
		{"bad publishAt", `{"publishAt": true}`, "publishAt: want an RFC 3339 string or Unix seconds"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeSidecar(strings.NewReader(tt.in), "a.jpg.json")
			if err != nil {
				var se *SidecarError
				if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "sidecar a.jpg.json: ") || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %q, want a *SidecarError with %q", err, tt.want)
				}
				return
			}
			if got := fields(m); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// fields prints the fields m sets, "-" for one not set.
func fields(m Meta) string {
	s := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	return strings.Join([]string{s(m.Caption), "[" + strings.Join(m.Participants, " ") + "]", s(m.BackgroundColor),
		s(m.Crop), s(m.VideoFit), s(m.PublishAt), s(m.Account)}, " ")
}

// TestSidecarPrepareAndAccount: a sidecar's crop and videoFit win over the
// run's; an account other than the run's is refused, naming --account.
func TestSidecarPrepareAndAccount(t *testing.T) {
	m, err := DecodeSidecar(strings.NewReader(`{"crop": "pad", "account": "shop"}`), "a.jpg.json")
	if err != nil {
		t.Fatal(err)
	}
	run := transcode.Options{Crop: transcode.CropCenter, VideoFit: transcode.FitPad}
	if got := m.Prepare(run); got.Crop != transcode.CropPad || got.VideoFit != transcode.FitPad {
		t.Errorf("Prepare = %+v, want crop pad and the run's videoFit", got)
	}
	if got := (Meta{}).Prepare(run); got != run {
		t.Errorf("no sidecar: Prepare = %+v, want %+v", got, run)
	}
	if err := m.CheckAccount("shop"); err != nil {
		t.Errorf("same account: %v", err)
	}
	if err := m.CheckAccount(""); err == nil || !strings.Contains(err.Error(), "--account shop") {
		t.Errorf("other account: %v, want a refusal naming --account shop", err)
	}
	def := "default"
	if err := (Meta{Account: &def}).CheckAccount(""); err != nil {
		t.Errorf("default named for the default: %v", err)
	}
}

// TestManifestHoldsWhatASidecarHolds: a manifest row takes the sidecar's
// fields (JSON and CSV), and a bad crop in one is refused.
func TestManifestHoldsWhatASidecarHolds(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jpg"), filepath.Join(dir, "b.mp4")
	write(t, a, "a")
	write(t, b, "b")
	write(t, filepath.Join(dir, "m.json"), `[{"file": "a.jpg", "crop": "smart", "account": "shop", "publishAt": 1796112000}]`)
	write(t, filepath.Join(dir, "m.csv"), "file,videoFit,crop\nb.mp4,pad,\n")
	byFile, err := ReadManifests([]string{filepath.Join(dir, "m.json"), filepath.Join(dir, "m.csv")}, []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if got := fields(byFile[a]); got != "- [] - smart - 1796112000 shop" {
		t.Errorf("JSON row: %s", got)
	}
	if got := fields(byFile[b]); got != "- [] - - pad - -" {
		t.Errorf("CSV row: %s", got)
	}
	write(t, filepath.Join(dir, "bad.csv"), "file,crop\na.jpg,diagonal\n")
	if _, err := ReadManifests([]string{filepath.Join(dir, "bad.csv")}, []string{a}); err == nil || !strings.Contains(err.Error(), "diagonal") {
		t.Errorf("bad crop in a manifest: %v", err)
	}
	// A sidecar wins over the manifest, field by field.
	side := Meta{Crop: ptr("pad")}
	if got := fields(byFile[a].Merge(side)); got != "- [] - pad - 1796112000 shop" {
		t.Errorf("merged: %s", got)
	}
	if st := byFile[a].Merge(side).Apply(pipeline.Status{Caption: "flag"}); st.Caption != "flag" {
		t.Errorf("Apply: %+v", st)
	}
}

func ptr(s string) *string { return &s }

func TestReadSidecarMissingIsEmpty(t *testing.T) {
	m, err := ReadSidecar(filepath.Join(t.TempDir(), "none.jpg.json"))
	if err != nil || fields(m) != "- [] - - - - -" {
		t.Errorf("missing sidecar: %s, %v", fields(m), err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "x.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSidecar(filepath.Join(dir, "x.json")); err == nil {
		t.Error("a folder read as a sidecar")
	}
}

// FuzzDecodeSidecar: a sidecar comes from whoever can write into the inbox.
// Whatever its bytes, DecodeSidecar answers a *SidecarError or a Meta that
// names no file and whose crop and videoFit transcode takes.
func FuzzDecodeSidecar(f *testing.F) {
	for _, seed := range []string{
		`{"caption": "Sale!", "participants": ["79001234567@c.us"], "crop": "pad", "videoFit": "crop"}`,
		`{"publishAt": 1796112000, "account": "shop"}`,
		`{"publishAt": "2026-12-01T09:00:00+01:00"}`,
		`{"file": "a.jpg"}`, `{"captoin": 1}`, `null`, ``, `{} {}`, "\xef\xbb\xbf{}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeSidecar(bytes.NewReader(b), "f.jpg.json")
		if err != nil {
			if se := (*SidecarError)(nil); !errors.As(err, &se) {
				t.Fatalf("%q: error %v is not a *SidecarError", b, err)
			}
			return
		}
		if m.File != "" {
			t.Fatalf("%q: a sidecar with a file: %+v", b, m)
		}
		if err := m.check(); err != nil {
			t.Fatalf("%q: accepted with a bad crop or videoFit: %v", b, err)
		}
	})
}
