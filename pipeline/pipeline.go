package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mediaprep/mediaprep/transcode"
)

// Method is the Green API method that posts a status.
type Method string

// The status methods of Green API (../shared/seeds).
const (
	MethodMediaStatus Method = "sendMediaStatus" // pictures and video
	MethodVoiceStatus Method = "sendVoiceStatus" // audio
	MethodTextStatus  Method = "sendTextStatus"  // text
)

// MethodFor returns the method that posts a prepared file of kind k.
func MethodFor(k transcode.Kind) Method {
	if k == transcode.KindAudio {
		return MethodVoiceStatus
	}
	return MethodMediaStatus
}

// Preparer sniffs and prepares source files; *transcode.Transcoder is the
// implementation.
type Preparer interface {
	// Sniff tells what the file at path is from its bytes.
	Sniff(ctx context.Context, path string) (transcode.Media, error)
	// PrepareMedia writes the status-ready form of src, sniffed as m, to
	// dst, and leaves nothing at dst on error.
	PrepareMedia(ctx context.Context, src string, m transcode.Media, dst string, opts transcode.Options) (transcode.Result, error)
}

var _ Preparer = (*transcode.Transcoder)(nil)

// Prepared is a file ready to be posted as a status. Its JSON form is the
// line `mediaprep prepare --json` prints.
type Prepared struct {
	Source          string         `json:"source"`
	Kind            transcode.Kind `json:"kind"`
	Method          Method         `json:"method"`
	Output          string         `json:"output,omitempty"` // empty when the bucket already had the file
	FileName        string         `json:"fileName"`
	ContentType     string         `json:"contentType"`
	Width           int            `json:"width"`
	Height          int            `json:"height"`
	DurationSeconds float64        `json:"durationSeconds"`
	SizeBytes       int64          `json:"sizeBytes"`
	SHA256          string         `json:"sha256"`
	FastPath        bool           `json:"fastPath"`
}

// Config configures a Pipeline.
type Config struct {
	OutDir string // where prepared files are written; default "out"
}

// NewDefaultConfig returns the defaults.
func NewDefaultConfig() Config { return Config{OutDir: "out"} }

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	if c.OutDir == "" {
		return errors.New("pipeline: OutDir is empty")
	}
	return nil
}

// Pipeline prepares source files into its output folder. It holds no
// per-run state and is safe for concurrent use.
type Pipeline struct {
	cfg  Config
	prep Preparer
}

// New validates cfg and returns a Pipeline that prepares with prep.
func New(cfg Config, prep Preparer) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Pipeline{cfg: cfg, prep: prep}, nil
}

// Prepare runs the steps that make src status-ready: sniff, then prepare
// into the output folder as stem plus the extension of the sniffed kind
// (see Stems). On error nothing is left in the output folder and CodeOf
// tells what went wrong.
func (p *Pipeline) Prepare(ctx context.Context, src, stem string, opts transcode.Options) (Prepared, error) {
	m, err := p.prep.Sniff(ctx, src)
	if err != nil {
		return Prepared{}, fmt.Errorf("%s: %w", src, err)
	}
	prep, err := p.prepareSniffed(ctx, src, stem, m, opts)
	if err != nil {
		return Prepared{}, fmt.Errorf("%s: %w", src, err)
	}
	return prep, nil
}

// prepareSniffed is Prepare for a source already sniffed as m; its errors
// do not name src (its callers do, once).
func (p *Pipeline) prepareSniffed(ctx context.Context, src, stem string, m transcode.Media, opts transcode.Options) (Prepared, error) {
	if err := os.MkdirAll(p.cfg.OutDir, 0o755); err != nil {
		return Prepared{}, fmt.Errorf("pipeline: output folder: %w", err)
	}
	name := stem + transcode.ExtFor(m.Kind)
	out := filepath.Join(p.cfg.OutDir, name)
	res, err := p.prep.PrepareMedia(ctx, src, m, out, opts)
	if err != nil {
		return Prepared{}, err
	}
	return Prepared{
		Source:          src,
		Kind:            res.Kind,
		Method:          MethodFor(res.Kind),
		Output:          out,
		FileName:        name,
		ContentType:     res.ContentType,
		Width:           res.Width,
		Height:          res.Height,
		DurationSeconds: res.Duration,
		SizeBytes:       res.Size,
		SHA256:          res.SHA256,
		FastPath:        res.FastPath,
	}, nil
}

// Stems returns an output name stem for each source: the Slug of its file
// name, made unique in order so that sources with the same name in one run
// never overwrite each other: the first keeps the name, the next ones get
// their own extension appended (clip, clip-mov), then a number (clip-2). A
// rerun over the same list names its outputs the same way.
func Stems(srcs []string) []string {
	taken := make(map[string]bool, len(srcs))
	stems := make([]string, len(srcs))
	for i, src := range srcs {
		ext := filepath.Ext(src)
		base := Slug(strings.TrimSuffix(filepath.Base(src), ext))
		stem := base
		if taken[stem] && len(ext) > 1 {
			stem = base + "-" + Slug(ext[1:])
		}
		for n := 2; taken[stem]; n++ {
			stem = fmt.Sprintf("%s-%d", base, n)
		}
		taken[stem] = true
		stems[i] = stem
	}
	return stems
}
