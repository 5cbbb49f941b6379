package transcode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Probe is what ffprobe says about a media file, reduced to the facts
// mediaprep decides on.
type Probe struct {
	FormatName string            // ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
	Duration   float64           // seconds; 0 when unknown
	BitRate    int64             // bits per second; 0 when unknown
	Size       int64             // bytes
	Tags       map[string]string // container metadata, e.g. "location" from a phone
	Streams    []Stream
}

// Stream is one stream of a probed file.
type Stream struct {
	Index       int
	Type        string // "video", "audio", "subtitle", "data", "attachment"
	Codec       string // codec_name, e.g. "h264", "aac"
	Profile     string // e.g. "LC", "High"
	PixFmt      string // video only, e.g. "yuv420p"
	Transfer    string // video only: color_transfer, e.g. "bt709", "arib-std-b67" (HLG), "smpte2084" (PQ)
	Width       int    // coded width, before rotation
	Height      int    // coded height, before rotation
	Rotation    int    // display rotation in degrees, normalised to 0, 90, 180, 270
	AttachedPic bool   // cover art: a picture muxed as a video stream
	Duration    float64
	Frames      int64   // nb_frames when the container says; 0 when unknown
	FrameRate   float64 // video only: average frames per second (else the real base rate); 0 when unknown
	Channels    int     // audio only
	SampleRate  int     // audio only, Hz
}

// Video returns the first real video stream (cover art is not video).
func (p *Probe) Video() (Stream, bool) {
	for _, s := range p.Streams {
		if s.Type == "video" && !s.AttachedPic {
			return s, true
		}
	}
	return Stream{}, false
}

// Audio returns the first audio stream.
func (p *Probe) Audio() (Stream, bool) {
	for _, s := range p.Streams {
		if s.Type == "audio" {
			return s, true
		}
	}
	return Stream{}, false
}

// AudioCount is the number of audio streams.
func (p *Probe) AudioCount() int {
	n := 0
	for _, s := range p.Streams {
		if s.Type == "audio" {
			n++
		}
	}
	return n
}

// HDR reports whether the stream is high dynamic range (HLG or PQ), as
// phones record by default: shown as SDR without tone mapping it looks grey.
func (s Stream) HDR() bool {
	return s.Transfer == "arib-std-b67" || s.Transfer == "smpte2084"
}

// DisplaySize is the size a player shows: width and height swapped for a
// stream rotated by 90 or 270 degrees.
func (s Stream) DisplaySize() (w, h int) {
	if s.Rotation == 90 || s.Rotation == 270 {
		return s.Height, s.Width
	}
	return s.Width, s.Height
}

// probe runs ffprobe on path, which Sniff found to be of format, with only
// the demuxers allowed for that format. A file ffprobe cannot read is
// ErrCorruptMedia; one that only a demuxer outside the allow-list would
// read is ErrUnsupportedType.
func (t *Transcoder) probe(ctx context.Context, path, format string) (*Probe, error) {
	demuxers, ok := avDemuxers[format]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedType, format)
	}
	in := input{path: path, demuxers: demuxers, maxPixels: t.cfg.MaxVideoPixels}
	var out bytes.Buffer
	// ffprobe decodes a few frames; with -max_pixels a frame over the
	// limit is not decoded, and only stderr says so.
	stderr := &tailBuffer{max: stderrTail}
	args := append([]string{"-v", "error", "-hide_banner", "-show_format", "-show_streams", "-of", "json"}, in.args()...)
	err := t.execStderr(ctx, t.cfg.ProbeTimeout, &out, stderr, t.cfg.FFprobe, args...)
	if strings.Contains(stderr.String(), "exceeds specified max pixel count") {
		return nil, fmt.Errorf("%w: video frames over the limit of %d pixels: %s", ErrTooManyPixels, t.cfg.MaxVideoPixels, lastLine(stderr.String()))
	}
	if err != nil {
		var ee *ExecError
		if errors.As(err, &ee) && strings.Contains(ee.Stderr, "not on whitelist") {
			return nil, fmt.Errorf("%w: %s: %w", ErrUnsupportedType, format, err)
		}
		if CodeOf(err) == CodeInternal {
			return nil, fmt.Errorf("%w: %w", ErrCorruptMedia, err)
		}
		return nil, err
	}
	p, err := parseProbe(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%w: ffprobe output: %w", ErrCorruptMedia, err)
	}
	return p, nil
}

// parseProbe decodes ffprobe's JSON (-show_format -show_streams -of json).
func parseProbe(data []byte) (*Probe, error) {
	var raw struct {
		Format struct {
			FormatName string            `json:"format_name"`
			Duration   string            `json:"duration"`
			BitRate    string            `json:"bit_rate"`
			Size       string            `json:"size"`
			Tags       map[string]string `json:"tags"`
		} `json:"format"`
		Streams []struct {
			Index       int    `json:"index"`
			CodecType   string `json:"codec_type"`
			CodecName   string `json:"codec_name"`
			Profile     string `json:"profile"`
			PixFmt      string `json:"pix_fmt"`
			Transfer    string `json:"color_transfer"`
			Width       int    `json:"width"`
			Height      int    `json:"height"`
			Duration    string `json:"duration"`
			NbFrames    string `json:"nb_frames"`
			AvgRate     string `json:"avg_frame_rate"`
			RealRate    string `json:"r_frame_rate"`
			Channels    int    `json:"channels"`
			SampleRate  string `json:"sample_rate"`
			Disposition struct {
				AttachedPic int `json:"attached_pic"`
			} `json:"disposition"`
			Tags struct {
				Rotate string `json:"rotate"`
			} `json:"tags"`
			SideData []struct {
				Rotation *float64 `json:"rotation"`
			} `json:"side_data_list"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	p := &Probe{
		FormatName: raw.Format.FormatName,
		Duration:   parseFloat(raw.Format.Duration),
		BitRate:    int64(parseFloat(raw.Format.BitRate)),
		Size:       int64(parseFloat(raw.Format.Size)),
		Tags:       raw.Format.Tags,
	}
	for _, rs := range raw.Streams {
		s := Stream{
			Index:       rs.Index,
			Type:        rs.CodecType,
			Codec:       rs.CodecName,
			Profile:     rs.Profile,
			PixFmt:      rs.PixFmt,
			Transfer:    rs.Transfer,
			Width:       rs.Width,
			Height:      rs.Height,
			AttachedPic: rs.Disposition.AttachedPic != 0,
			Duration:    parseFloat(rs.Duration),
			Frames:      int64(parseFloat(rs.NbFrames)),
			Channels:    rs.Channels,
			SampleRate:  int(parseFloat(rs.SampleRate)),
		}
		if rs.CodecType == "video" {
			if s.FrameRate = parseRate(rs.AvgRate); s.FrameRate == 0 {
				s.FrameRate = parseRate(rs.RealRate)
			}
		}
		rot := parseFloat(rs.Tags.Rotate)
		for _, sd := range rs.SideData {
			if sd.Rotation != nil {
				// The display matrix rotation is counter-clockwise;
				// the old rotate tag is clockwise.
				rot = -*sd.Rotation
			}
		}
		s.Rotation = normaliseRotation(rot)
		p.Streams = append(p.Streams, s)
	}
	if p.Duration == 0 {
		for _, s := range p.Streams {
			p.Duration = math.Max(p.Duration, s.Duration)
		}
	}
	return p, nil
}

func normaliseRotation(deg float64) int {
	r := int(math.Round(deg/90)) * 90 % 360
	if r < 0 {
		r += 360
	}
	return r
}

// parseRate reads a rate like "30000/1001"; 0 when unknown ("0/0").
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		return parseFloat(s)
	}
	d := parseFloat(den)
	if d == 0 {
		return 0
	}
	return parseFloat(num) / d
}

func parseFloat(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
