// Package batch finds what `mediaprep batch` posts: the media files under
// the folders and files it is given, and the status settings of each from
// its sidecar (NAME.EXT.json) or a manifest (JSON or CSV), publish times
// included; Plan puts them together and checks each publish time. The
// command posts them (publish.Runner.RunBatch), or hands them to the
// service when they have a publish time (publish.Service.ScheduleBatch).
// The sidecar format (DecodeSidecar) is also the service inbox's, so a
// file and its sidecar work dropped in the bucket or given to the command.
package batch

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mediaprep/mediaprep/pipeline"
)

// Meta is the per-file part of a status, from a sidecar (see
// DecodeSidecar) or a manifest row. A nil field is not set: what is set
// wins over the flags, a sidecar's over the manifest's (Merge).
type Meta struct {
	File            string   `json:"file,omitempty"` // manifests only
	Caption         *string  `json:"caption,omitempty"`
	Participants    []string `json:"participants,omitempty"`
	BackgroundColor *string  `json:"backgroundColor,omitempty"`
	Crop            *string  `json:"crop,omitempty"`      // transcode.CropMode; see Prepare
	VideoFit        *string  `json:"videoFit,omitempty"`  // transcode.Fit; see Prepare
	PublishAt       *string  `json:"publishAt,omitempty"` // RFC 3339 or Unix seconds (queue.ParsePublishAt); a JSON number too
	Account         *string  `json:"account,omitempty"`   // see CheckAccount
}

// Apply returns st with the fields m sets.
func (m Meta) Apply(st pipeline.Status) pipeline.Status {
	if m.Caption != nil {
		st.Caption = *m.Caption
	}
	if m.Participants != nil {
		st.Participants = m.Participants
	}
	if m.BackgroundColor != nil {
		st.BackgroundColor = *m.BackgroundColor
	}
	return st
}

// Collect lists the media files under args in a stable order: folders are
// walked (hidden entries and the output folder skipped), sidecars and
// manifests are not media. It also returns the manifests to read.
func Collect(args []string, out, manifest string) (files, manifests []string, err error) {
	outAbs, _ := filepath.Abs(out)
	skip := map[string]bool{}
	if manifest != "" {
		abs, _ := filepath.Abs(manifest)
		skip[abs] = true
		manifests = append(manifests, manifest)
	}
	for _, arg := range args {
		fi, err := os.Stat(arg)
		if err != nil {
			return nil, nil, err
		}
		if !fi.IsDir() {
			files = append(files, arg)
			continue
		}
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			abs, _ := filepath.Abs(path)
			if path != arg && strings.HasPrefix(d.Name(), ".") || d.IsDir() && abs == outAbs {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || !d.Type().IsRegular() || skip[abs] {
				return nil
			}
			if n := d.Name(); n == "manifest.json" || n == "manifest.csv" {
				skip[abs] = true
				manifests = append(manifests, path)
				return nil
			}
			if strings.HasSuffix(path, ".json") {
				if _, err := os.Stat(strings.TrimSuffix(path, ".json")); err == nil {
					return nil // a sidecar
				}
			}
			files = append(files, path)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	// The same file named twice (a folder and a file in it) is one file.
	seen := make(map[string]bool, len(files))
	files = slices.DeleteFunc(files, func(f string) bool {
		abs, _ := filepath.Abs(f)
		dup := seen[abs]
		seen[abs] = true
		return dup
	})
	return files, manifests, nil
}

// ReadManifests reads the manifests into metas by absolute file path. An
// entry that names none of the files is an error: a misspelt name would
// otherwise post its file without the caption meant for it.
func ReadManifests(manifests, files []string) (map[string]Meta, error) {
	byFile := map[string]Meta{}
	for _, m := range manifests {
		entries, err := readManifest(m)
		if err != nil {
			return nil, err
		}
		for k, v := range entries {
			byFile[k] = v
		}
	}
	known := make(map[string]bool, len(files))
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		known[abs] = true
	}
	var missing []string
	for abs, m := range byFile {
		if !known[abs] {
			missing = append(missing, m.File)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("%s: manifest entries name no file being posted: %s", pipeline.CodeBadMetadata, strings.Join(missing, ", "))
	}
	return byFile, nil
}

// MaxManifest caps the bytes of a manifest, read whole into memory; a
// bigger one stops the run. 16 MiB holds some 100 000 entries of a caption
// each, far more than one batch posts, and bounds the memory a wrong file
// given as --manifest (a video, a device) can take.
const MaxManifest = 16 << 20

// readManifest reads a CSV or JSON manifest into metas by absolute file
// path; file names are relative to the manifest's folder.
func readManifest(path string) (map[string]Meta, error) {
	b, err := readAtMost(path, MaxManifest)
	if err != nil {
		return nil, err
	}
	var entries []Meta
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{') {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&entries); err != nil {
			return nil, fmt.Errorf("manifest %s: %w (want [{\"file\", %s}])", path, err, sidecarFields)
		}
	} else if entries, err = readCSVManifest(b); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	out := make(map[string]Meta, len(entries))
	for i, e := range entries {
		if e.File == "" {
			return nil, fmt.Errorf("manifest %s: entry %d has no file", path, i+1)
		}
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("manifest %s: %s: %w", path, e.File, err)
		}
		p := e.File
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		abs, _ := filepath.Abs(p)
		out[abs] = e
	}
	return out, nil
}

// readAtMost reads the file path, refusing one over limit bytes
// (bad_metadata, naming the limit) without reading more than limit+1.
func readAtMost(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: manifest %s: over the %d byte limit of a manifest", pipeline.CodeBadMetadata, path, limit)
	}
	return b, nil
}

func readCSVManifest(b []byte) ([]Meta, error) {
	r := csv.NewReader(bytes.NewReader(b))
	rows, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		h = strings.TrimSpace(h)
		switch h {
		case "file", "caption", "participants", "backgroundColor", "crop", "videoFit", "publishAt", "account":
			col[h] = i
		default:
			return nil, fmt.Errorf("unknown column %q (want file, %s)", h, sidecarFields)
		}
	}
	if _, ok := col["file"]; !ok {
		return nil, fmt.Errorf("no file column")
	}
	var out []Meta
	for _, row := range rows[1:] {
		var m Meta
		m.File = row[col["file"]]
		for name, field := range map[string]**string{"caption": &m.Caption, "backgroundColor": &m.BackgroundColor,
			"crop": &m.Crop, "videoFit": &m.VideoFit, "publishAt": &m.PublishAt, "account": &m.Account} {
			if i, ok := col[name]; ok && row[i] != "" {
				*field = &row[i]
			}
		}
		if i, ok := col["participants"]; ok && row[i] != "" {
			m.Participants = slices.DeleteFunc(strings.FieldsFunc(row[i], func(r rune) bool { return r == ' ' || r == ';' || r == ',' }),
				func(s string) bool { return s == "" })
		}
		out = append(out, m)
	}
	return out, nil
}

// Merge is m with what over sets (a sidecar over a manifest entry).
func (m Meta) Merge(over Meta) Meta {
	m.Caption = cmp.Or(over.Caption, m.Caption)
	if over.Participants != nil {
		m.Participants = over.Participants
	}
	m.BackgroundColor = cmp.Or(over.BackgroundColor, m.BackgroundColor)
	m.Crop = cmp.Or(over.Crop, m.Crop)
	m.VideoFit = cmp.Or(over.VideoFit, m.VideoFit)
	m.PublishAt = cmp.Or(over.PublishAt, m.PublishAt)
	m.Account = cmp.Or(over.Account, m.Account)
	return m
}
