package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mediaprep/mediaprep/pipeline"
)

type batchFlags struct {
	publishFlags
	manifest string
	force    bool
}

func newBatchCmd(g *globalFlags, stdout io.Writer, ev *env) *cobra.Command {
	var f batchFlags
	cmd := &cobra.Command{
		Use:   "batch [flags] DIR|FILE...",
		Short: "Post many files as statuses, resuming where a previous run stopped",
		Long: `batch posts every file in the given folders (recursively; hidden files are
skipped) and the given files, like post, several at once (-j).

Per-file settings come from a sidecar next to the file (NAME.EXT.json) or
from a manifest (--manifest FILE, or any manifest.json / manifest.csv in
the folders; its file names are relative to it). Both hold caption, participants,
backgroundColor and publishAt; a sidecar wins over the manifest, the manifest over flags.

With a publish time (--publish-at, or publishAt in a sidecar or manifest)
batch posts nothing itself: it hands every file to the service at
MEDIAPREP_API_URL (key MEDIAPREP_API_KEY), whose queue holds each until its
time, waits until each is prepared and stored there (a broken file fails
now), and prints its job id.
  sidecar:  {"caption": "Sale!", "participants": ["79001234567@c.us"]}
  JSON:     [{"file": "a.jpg", "caption": "..."}, ...]
  CSV:      file,caption,participants,backgroundColor  (participants split on spaces or ;)

The ledger (` + pipeline.LedgerName + ` in --out) records every post: content,
options and status → url and idMessage. A rerun skips what it holds unless
--force.

Exit status: 0 when every file was posted or skipped, 1 when any failed,
2 for usage errors and bad settings, 130 when interrupted.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBatch(cmd.Context(), runLogger(g, f.json, stdout), &f, ev, args, stdout)
		},
	}
	addPublishFlags(cmd, &f.publishFlags, ev)
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "out", "o", "out", "folder for the prepared files and the ledger")
	fl.StringVar(&f.manifest, "manifest", "", "CSV or JSON file with per-file caption, participants, backgroundColor")
	fl.BoolVar(&f.force, "force", false, "post again what the ledger says was posted")
	return cmd
}

// meta is the per-file part of a status, from a sidecar or manifest.
type meta struct {
	File            string   `json:"file,omitempty"` // manifests only
	Caption         *string  `json:"caption,omitempty"`
	Participants    []string `json:"participants,omitempty"`
	BackgroundColor *string  `json:"backgroundColor,omitempty"`
	PublishAt       *string  `json:"publishAt,omitempty"` // RFC 3339 or Unix seconds (schedule.go)
}

func (m meta) apply(st pipeline.Status) pipeline.Status {
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

func runBatch(ctx context.Context, log *slog.Logger, f *batchFlags, ev *env, args []string, stdout io.Writer) error {
	if handed, err := runBatchScheduled(ctx, f, ev, args, stdout); handed || err != nil {
		return err // publish times: the statuses went to a service (schedule.go)
	}
	c, err := f.check(ev)
	if err != nil {
		return err
	}
	files, manifests, err := collect(args, f.out, f.manifest)
	if err != nil {
		return usageError{err}
	}
	if len(files) == 0 {
		return usagef("no files to post in %s", strings.Join(args, ", "))
	}
	byFile, err := readManifests(manifests, files)
	if err != nil {
		return usageError{err}
	}
	p, err := newPublisher(ctx, log, &f.publishFlags, c, len(files), filepath.Join(f.out, pipeline.LedgerName))
	if err != nil {
		return err
	}
	defer p.Close()
	stems := pipeline.Stems(files)
	jobs := make([]pipeline.Post, 0, len(files))
	var bad []result
	for i, src := range files {
		st := p.status
		abs, _ := filepath.Abs(src)
		if m, ok := byFile[abs]; ok {
			st = m.apply(st)
		}
		side, err := readSidecar(src + ".json")
		if err != nil {
			bad = append(bad, result{Posted: pipeline.Posted{Prepared: pipeline.Prepared{Source: src}},
				Error: &errorBody{pipeline.CodeBadMetadata, err.Error()}})
			continue
		}
		st = side.apply(st)
		jobs = append(jobs, pipeline.Post{Source: src, Stem: stems[i], Prepare: p.opts, Status: st, Force: f.force})
	}
	return p.publishAll(ctx, &f.publishFlags, jobs, stdout, bad...)
}

// collect lists the media files under args in a stable order: folders are
// walked (hidden entries and the output folder skipped), sidecars and
// manifests are not media. It also returns the manifests to read.
func collect(args []string, out, manifest string) (files, manifests []string, err error) {
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

// readSidecar reads NAME.EXT.json; a missing sidecar is an empty meta.
func readSidecar(path string) (meta, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return meta{}, nil
	}
	if err != nil {
		return meta{}, err
	}
	var m meta
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return meta{}, fmt.Errorf("sidecar %s: %w (want caption, participants, backgroundColor, publishAt)", path, err)
	}
	if m.File != "" {
		return meta{}, fmt.Errorf("sidecar %s: \"file\" belongs in a manifest", path)
	}
	return m, nil
}

// readManifests reads the manifests into metas by absolute file path. An
// entry that names none of the files is an error: a misspelt name would
// otherwise post its file without the caption meant for it.
func readManifests(manifests, files []string) (map[string]meta, error) {
	byFile := map[string]meta{}
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

// readManifest reads a CSV or JSON manifest into metas by absolute file
// path; file names are relative to the manifest's folder.
func readManifest(path string) (map[string]meta, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entries []meta
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{') {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&entries); err != nil {
			return nil, fmt.Errorf("manifest %s: %w (want [{\"file\", \"caption\", \"participants\", \"backgroundColor\"}])", path, err)
		}
	} else if entries, err = readCSVManifest(b); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	out := make(map[string]meta, len(entries))
	for i, e := range entries {
		if e.File == "" {
			return nil, fmt.Errorf("manifest %s: entry %d has no file", path, i+1)
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

func readCSVManifest(b []byte) ([]meta, error) {
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
		case "file", "caption", "participants", "backgroundColor", "publishAt":
			col[h] = i
		default:
			return nil, fmt.Errorf("unknown column %q (want file, caption, participants, backgroundColor, publishAt)", h)
		}
	}
	if _, ok := col["file"]; !ok {
		return nil, fmt.Errorf("no file column")
	}
	var out []meta
	for _, row := range rows[1:] {
		var m meta
		m.File = row[col["file"]]
		if i, ok := col["caption"]; ok && row[i] != "" {
			m.Caption = &row[i]
		}
		if i, ok := col["backgroundColor"]; ok && row[i] != "" {
			m.BackgroundColor = &row[i]
		}
		if i, ok := col["publishAt"]; ok && row[i] != "" {
			m.PublishAt = &row[i]
		}
		if i, ok := col["participants"]; ok && row[i] != "" {
			m.Participants = slices.DeleteFunc(strings.FieldsFunc(row[i], func(r rune) bool { return r == ' ' || r == ';' || r == ',' }),
				func(s string) bool { return s == "" })
		}
		out = append(out, m)
	}
	return out, nil
}
