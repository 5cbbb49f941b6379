package transcode

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image/color"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Kind is what a file is for a WhatsApp status.
type Kind string

// The kinds of media mediaprep prepares.
const (
	KindImage Kind = "image"
	KindVideo Kind = "video"
	KindAudio Kind = "audio"
)

// Limits that WhatsApp statuses impose (../shared/notes/greenapi.md).
const (
	MaxStatusSeconds = 60       // statuses longer than a minute are cut
	MaxVideoBytes    = 16 << 20 // commonly cited cap for a status video
	TargetLong       = 1920     // long side of a full-screen status
	TargetShort      = 1080     // short side of a full-screen status
)

// Config says where the tools are and which limits apply. The zero value is
// not usable: start from NewDefaultConfig.
type Config struct {
	FFmpeg      string // ffmpeg binary; default "ffmpeg" from PATH
	FFprobe     string // ffprobe binary; default "ffprobe" from PATH
	HeifConvert string // libheif's heif-convert, for HEIC/HEIF; default "heif-convert"

	MaxInputBytes int64 // inputs larger than this fail with too_large; default 4 GiB
	MaxPixels     int64 // pictures with more pixels fail with too_many_pixels before decoding; default 64 MP
	// Limits checked on what a file declares, before it is decoded.
	MaxDecodedBytes  int64         // pictures whose decoding takes more memory (decoded pixels at the bytes a pixel of their colour model takes, 8 for 16-bit RGBA, the shrunk copy and the decoder's buffers: see decodeCost) fail with over_limit; default 256 MiB
	MaxVideoPixels   int64         // videos whose frames (an animated GIF's logical screen, an MP4's track header) have more pixels fail with too_many_pixels; default 8192×4320 (8K)
	MaxFrameRate     float64       // videos declaring more frames a second fail with over_limit; default 480
	MaxDuration      time.Duration // inputs declaring a longer duration fail with over_limit (only the first 60 s are used); default 4 h
	MaxAudioChannels int           // audio with more channels fails with over_limit; default 16
	MaxSampleRate    int           // audio with a higher sample rate (Hz) fails with over_limit; default 384000
	ProbeTimeout     time.Duration // deadline of one ffprobe run; default 30 s
	RunTimeout       time.Duration // deadline of one ffmpeg or heif-convert run; default 10 min
	Threads          int           // threads one ffmpeg run may use; 0 lets ffmpeg choose
	JPEGQuality      int           // quality of prepared pictures, 1..100; default 85
	Background       color.NRGBA   // what transparent pixels become (JPEG has no alpha); default white

	Logger *slog.Logger // receives every external command at debug level; default discards
}

// NewDefaultConfig returns the configuration mediaprep runs with unless told
// otherwise.
func NewDefaultConfig() Config {
	return Config{
		FFmpeg:           "ffmpeg",
		FFprobe:          "ffprobe",
		HeifConvert:      "heif-convert",
		MaxInputBytes:    4 << 30,
		MaxPixels:        64_000_000,
		MaxDecodedBytes:  256 << 20,
		MaxVideoPixels:   8192 * 4320,
		MaxFrameRate:     480,
		MaxDuration:      4 * time.Hour,
		MaxAudioChannels: 16,
		MaxSampleRate:    384_000,
		ProbeTimeout:     30 * time.Second,
		RunTimeout:       10 * time.Minute,
		JPEGQuality:      85,
		Background:       color.NRGBA{255, 255, 255, 255},
		Logger:           slog.New(slog.DiscardHandler),
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.FFmpeg == "" {
		errs = append(errs, errors.New("transcode: FFmpeg is empty"))
	}
	if c.FFprobe == "" {
		errs = append(errs, errors.New("transcode: FFprobe is empty"))
	}
	if c.MaxInputBytes <= 0 {
		errs = append(errs, fmt.Errorf("transcode: MaxInputBytes %d must be positive", c.MaxInputBytes))
	}
	if c.MaxPixels <= 0 {
		errs = append(errs, fmt.Errorf("transcode: MaxPixels %d must be positive", c.MaxPixels))
	}
	if c.MaxDecodedBytes <= 0 || c.MaxVideoPixels <= 0 || c.MaxFrameRate <= 0 || c.MaxDuration <= 0 || c.MaxAudioChannels <= 0 || c.MaxSampleRate <= 0 {
		errs = append(errs, fmt.Errorf("transcode: MaxDecodedBytes %d, MaxVideoPixels %d, MaxFrameRate %g, MaxDuration %s, MaxAudioChannels %d and MaxSampleRate %d must all be positive",
			c.MaxDecodedBytes, c.MaxVideoPixels, c.MaxFrameRate, c.MaxDuration, c.MaxAudioChannels, c.MaxSampleRate))
	}
	if c.MaxVideoPixels > 1<<31-1 {
		errs = append(errs, fmt.Errorf("transcode: MaxVideoPixels %d is over ffmpeg's 2^31-1", c.MaxVideoPixels))
	}
	if c.ProbeTimeout <= 0 || c.RunTimeout <= 0 {
		errs = append(errs, errors.New("transcode: ProbeTimeout and RunTimeout must be positive"))
	}
	if c.Threads < 0 {
		errs = append(errs, fmt.Errorf("transcode: Threads %d must not be negative", c.Threads))
	}
	if c.JPEGQuality < 1 || c.JPEGQuality > 100 {
		errs = append(errs, fmt.Errorf("transcode: JPEGQuality %d must be within 1..100", c.JPEGQuality))
	}
	return errors.Join(errs...)
}

// Transcoder prepares media files for WhatsApp statuses. It is safe for
// concurrent use; each Prepare runs its own ffmpeg processes.
type Transcoder struct {
	cfg Config
}

// New validates cfg and returns a Transcoder.
func New(cfg Config) (*Transcoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Transcoder{cfg: cfg}, nil
}

// CropMode says how a picture becomes 9:16.
type CropMode string

// The crop modes of pictures.
const (
	CropCenter CropMode = "center" // cut the middle 9:16 out
	CropSmart  CropMode = "smart"  // cut the most interesting 9:16 out
	CropPad    CropMode = "pad"    // fit the whole picture on a blurred, zoomed copy of itself
)

// Fit says how a video is framed.
type Fit string

// The framings of videos.
const (
	FitKeep Fit = "keep" // keep the aspect ratio, only scale down
	FitCrop Fit = "crop" // cut the middle 9:16 out
	FitPad  Fit = "pad"  // fit into 9:16 with black bars
)

// Options are the per-file choices of a preparation. The zero value means
// the defaults: center crop, keep the video's framing, fast path allowed.
type Options struct {
	Crop           CropMode
	VideoFit       Fit
	ForceTranscode bool // never take the stream-copy fast path
}

// Validate reports a bad option; the zero value is valid.
func (o Options) Validate() error {
	var errs []error
	switch o.Crop {
	case "", CropCenter, CropSmart, CropPad:
	default:
		errs = append(errs, fmt.Errorf("transcode: crop mode %q is not one of center, smart, pad", o.Crop))
	}
	switch o.VideoFit {
	case "", FitKeep, FitCrop, FitPad:
	default:
		errs = append(errs, fmt.Errorf("transcode: video fit %q is not one of keep, crop, pad", o.VideoFit))
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	o.Crop = cmp.Or(o.Crop, CropCenter)
	o.VideoFit = cmp.Or(o.VideoFit, FitKeep)
	return o
}

// Result describes a prepared file.
type Result struct {
	Kind        Kind
	ContentType string  // image/jpeg, video/mp4 or audio/mpeg
	Ext         string  // the file name extension that goes with ContentType, with its dot
	Width       int     // pixels as displayed; 0 for audio
	Height      int     // pixels as displayed; 0 for audio
	Duration    float64 // seconds; 0 for pictures
	Size        int64   // bytes
	SHA256      string  // hex digest of the prepared file
	FastPath    bool    // the video was remuxed with stream copy, not re-encoded
}

// ExtFor returns the extension of the prepared output of a kind.
func ExtFor(k Kind) string {
	switch k {
	case KindImage:
		return ".jpg"
	case KindVideo:
		return ".mp4"
	case KindAudio:
		return ".mp3"
	}
	return ""
}

// ContentTypeFor returns the media type of a prepared file of kind k.
func ContentTypeFor(k Kind) string {
	switch k {
	case KindImage:
		return "image/jpeg"
	case KindVideo:
		return "video/mp4"
	case KindAudio:
		return "audio/mpeg"
	}
	return ""
}

// Prepare sniffs the file at src and prepares it into dst: it is Sniff
// followed by PrepareMedia. dst's extension is not consulted; name it with
// ExtFor of the sniffed kind.
func (t *Transcoder) Prepare(ctx context.Context, src, dst string, opts Options) (Result, error) {
	m, err := t.Sniff(ctx, src)
	if err != nil {
		return Result{}, err
	}
	return t.PrepareMedia(ctx, src, m, dst, opts)
}

// PrepareMedia turns the file at src, which Sniff found to be m, into a file
// that a WhatsApp status accepts and writes it to dst. On error dst is not
// created (nor left half-written), and the error wraps one of the package's
// sentinels (see CodeOf).
func (t *Transcoder) PrepareMedia(ctx context.Context, src string, m Media, dst string, opts Options) (Result, error) {
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	opts = opts.withDefaults()
	// Write next to dst, then rename: a reader of dst never sees half a
	// file, and a failure leaves nothing behind.
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return Result{}, fmt.Errorf("transcode: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpPath) // a no-op after the rename

	var res Result
	switch m.Kind {
	case KindImage:
		res, err = t.prepareImage(ctx, src, tmpPath, m, opts)
	case KindVideo:
		res, err = t.prepareVideo(ctx, src, tmpPath, m, opts)
	case KindAudio:
		res, err = t.prepareAudio(ctx, src, tmpPath, m, opts)
	default:
		err = fmt.Errorf("%w: kind %q", ErrUnsupportedType, m.Kind)
	}
	if err != nil {
		return Result{}, err
	}
	res.Kind = m.Kind
	res.Ext = ExtFor(m.Kind)
	if res.Size, res.SHA256, err = digest(tmpPath); err != nil {
		return Result{}, err
	}
	if m.Kind == KindVideo && res.Size > MaxVideoBytes {
		return Result{}, fmt.Errorf("%w: prepared video is %d bytes, over the %d byte cap", ErrTooLarge, res.Size, MaxVideoBytes)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if err := os.Rename(tmpPath, dst); err != nil {
		return Result{}, fmt.Errorf("transcode: %w", err)
	}
	return res, nil
}

// digest returns the size and hex SHA-256 of the file at path.
func digest(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", fmt.Errorf("transcode: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("transcode: %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
