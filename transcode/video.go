package transcode

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Video output settings.
const (
	videoCRF        = "23"       // libx264 quality when the bitrate cap allows
	videoPreset     = "veryfast" // speed against size on 2-core machines
	videoMaxRate    = 6_000_000  // bits/s: enough for 1080p, keeps short clips small
	statusAudioRate = 128_000    // bits/s of the AAC track
	sizeBudget      = 15 << 20   // bytes aimed at, under MaxVideoBytes with room for the container
	durationSlack   = 0.05       // seconds a fast-path input may exceed the limit by (container rounding)
	maxFPS          = "60"       // slow-motion phone clips (120/240 fps) are brought down to this
)

// videoPlan is everything decided about one video before ffmpeg runs; pure
// data, so that the decisions can be tested without ffmpeg.
type videoPlan struct {
	copy          bool    // fast path: remux with stream copy
	asIs          bool    // fast path, and the file is already exactly what a status wants: copy its bytes
	silent        bool    // the input has no audio: add a silent AAC track
	duration      float64 // seconds of output
	width, height int     // displayed size of the output
	filter        string  // -vf chain when transcoding
	maxRate       int     // video bitrate cap, bits/s, when transcoding
}

// planVideo decides how the video m becomes a status video.
func planVideo(m Media, opts Options) (videoPlan, error) {
	v, ok := m.Probe.Video()
	if !ok {
		return videoPlan{}, fmt.Errorf("%w: no video stream", ErrCorruptMedia)
	}
	dw, dh := v.DisplaySize()
	if dw <= 0 || dh <= 0 {
		return videoPlan{}, fmt.Errorf("%w: video stream has no size", ErrCorruptMedia)
	}
	_, hasAudio := m.Probe.Audio()
	p := videoPlan{silent: !hasAudio, duration: m.Probe.Duration}
	if p.duration <= 0 || p.duration > MaxStatusSeconds {
		p.duration = MaxStatusSeconds
	}
	if !opts.ForceTranscode && fastPathOK(m, v, opts) {
		p.copy = true
		p.width, p.height = dw, dh
		p.duration = m.Probe.Duration
		// One video and one audio stream, nothing else, no location
		// tag: only the moov position can still need a remux.
		p.asIs = hasAudio && len(m.Probe.Streams) == 2 && !hasLocation(m.Probe.Tags)
		return p, nil
	}
	p.filter, p.width, p.height = videoFilter(dw, dh, opts.VideoFit, v.HDR())
	p.maxRate = videoBitrateCap(p.duration)
	return p, nil
}

// fastPathOK reports whether the video can be remuxed as it is: H.264 in
// 8-bit 4:2:0, AAC-LC or no audio, MP4 or MOV, within the duration, size and
// frame limits of a status, and already framed as asked.
func fastPathOK(m Media, v Stream, opts Options) bool {
	p := m.Probe
	if m.Format == "gif" || !isISOBMFF(p) {
		return false
	}
	if v.Codec != "h264" || v.PixFmt != "yuv420p" || v.HDR() || v.Width%2 != 0 || v.Height%2 != 0 {
		return false
	}
	if a, ok := p.Audio(); ok && (a.Codec != "aac" || a.Profile != "LC") {
		return false
	}
	if p.Duration <= 0 || p.Duration > MaxStatusSeconds+durationSlack || p.Size <= 0 || p.Size > MaxVideoBytes {
		return false
	}
	dw, dh := v.DisplaySize()
	bw, bh := statusBox(dw, dh)
	if dw > bw || dh > bh {
		return false
	}
	return opts.VideoFit == FitKeep || isStatusAspect(dw, dh)
}

// hasLocation reports whether container tags hold a place (phones record
// where a clip was shot): such a file is remuxed without its metadata
// rather than served as it is.
func hasLocation(tags map[string]string) bool {
	for k := range tags {
		if strings.Contains(strings.ToLower(k), "location") {
			return true
		}
	}
	return false
}

// isStatusAspect reports whether w×h is 9:16 within a pixel.
func isStatusAspect(w, h int) bool {
	return math.Abs(float64(w)*aspectH/aspectW-float64(h)) <= aspectH/aspectW
}

// toneMap turns HDR (HLG or PQ, BT.2020) into SDR BT.709 with the Hable
// curve, after scaling so that it works on the small picture.
const toneMap = "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv"

// videoFilter returns the -vf chain that frames a dw×dh (displayed) video as
// fit asks, never scaling up, and the output size. Sides are even, as H.264
// in yuv420p needs. HDR input is tone-mapped to SDR.
func videoFilter(dw, dh int, fit Fit, hdr bool) (string, int, int) {
	var steps []string
	var w, h int
	switch fit {
	case FitCrop:
		r := centerCrop(dw, dh, aspectW, aspectH)
		steps = append(steps, fmt.Sprintf("crop=%d:%d:%d:%d", r.Dx(), r.Dy(), r.Min.X, r.Min.Y))
		w, h = fitWithin(r.Dx(), r.Dy(), TargetShort, TargetLong)
		w, h = even(w), even(h)
		steps = append(steps, fmt.Sprintf("scale=%d:%d:flags=bicubic", w, h))
	case FitPad:
		fw, fh := fitWithin(dw, dh, TargetShort, TargetLong)
		fw, fh = even(fw), even(fh)
		// The 9:16 canvas around the fitted picture.
		w, h = fw, fh
		if fw*aspectH > fh*aspectW {
			h = even(int(math.Round(float64(fw) * aspectH / aspectW)))
		} else {
			w = even(int(math.Round(float64(fh) * aspectW / aspectH)))
		}
		w, h = max(w, fw), max(h, fh)
		steps = append(steps,
			fmt.Sprintf("scale=%d:%d:flags=bicubic", fw, fh),
			fmt.Sprintf("pad=%d:%d:%d:%d:color=black", w, h, (w-fw)/2&^1, (h-fh)/2&^1))
	default: // FitKeep
		bw, bh := statusBox(dw, dh)
		w, h = fitWithin(dw, dh, bw, bh)
		w, h = even(w), even(h)
		steps = append(steps, fmt.Sprintf("scale=%d:%d:flags=bicubic", w, h))
	}
	if hdr {
		// After scale, before pad's black bars join in.
		i := len(steps)
		if fit == FitPad {
			i--
		}
		steps = append(steps[:i], append([]string{toneMap}, steps[i:]...)...)
	}
	steps = append(steps, "setsar=1", "format=yuv420p")
	return strings.Join(steps, ","), w, h
}

// videoBitrateCap returns the video bitrate that keeps d seconds of status,
// with its audio and one second of VBV buffer, under the size budget.
func videoBitrateCap(d float64) int {
	bits := float64(sizeBudget)*8 - statusAudioRate*d
	return int(min(videoMaxRate, bits/(d+1)))
}

// videoArgs returns the ffmpeg arguments that carry out plan on in into
// dst. The output is always the last argument.
func videoArgs(plan videoPlan, in input, dst string, threads int) []string {
	secs := strconv.FormatFloat(plan.duration, 'f', 3, 64)
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}
	if !plan.copy {
		// Before -i: ffmpeg stops reading the input at 60 s.
		args = append(args, "-t", strconv.Itoa(MaxStatusSeconds))
	}
	args = append(args, in.args()...)
	if plan.silent {
		args = append(args, "-f", "lavfi", "-t", secs, "-i", "anullsrc=channel_layout=stereo:sample_rate=44100")
	}
	// The first real video stream (capital V skips cover art) and the
	// first audio stream, or the silent one.
	args = append(args, "-map", "0:V:0")
	if plan.silent {
		args = append(args, "-map", "1:a:0", "-shortest")
	} else {
		args = append(args, "-map", "0:a:0")
	}
	if plan.copy {
		args = append(args, "-c:v", "copy")
		if plan.silent {
			args = append(args, "-c:a", "aac", "-b:a", strconv.Itoa(statusAudioRate))
		} else {
			args = append(args, "-c:a", "copy")
		}
	} else {
		rate := strconv.Itoa(plan.maxRate)
		args = append(args,
			"-vf", plan.filter, "-fpsmax", maxFPS,
			"-c:v", "libx264", "-preset", videoPreset, "-crf", videoCRF,
			"-maxrate", rate, "-bufsize", rate, "-profile:v", "high",
			"-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
			"-c:a", "aac", "-b:a", strconv.Itoa(statusAudioRate), "-ac", "2", "-ar", "44100")
		if threads > 0 {
			n := strconv.Itoa(threads)
			args = append(args, "-threads", n, "-filter_threads", n)
		}
	}
	return append(args, "-map_metadata", "-1", "-movflags", "+faststart", "-f", "mp4", dst)
}

// prepareVideo writes src, sniffed as video, to dst as an MP4 status.
func (t *Transcoder) prepareVideo(ctx context.Context, src, dst string, m Media, opts Options) (Result, error) {
	plan, err := planVideo(m, opts)
	if err != nil {
		return Result{}, err
	}
	in, err := t.mediaInput(src, m)
	if err != nil {
		return Result{}, err
	}
	if isISOBMFF(m.Probe) {
		// A file cut short (an upload that stopped) still probes fine
		// when its index comes first: refuse it rather than post a part.
		if ok, err := boxesComplete(src); err != nil {
			return Result{}, err
		} else if !ok {
			return Result{}, fmt.Errorf("%w: the file is truncated: its last box runs past its end", ErrCorruptMedia)
		}
	}
	res := Result{ContentType: ContentTypeFor(KindVideo), Width: plan.width, Height: plan.height, Duration: plan.duration, FastPath: plan.copy}
	if plan.asIs {
		if ok, err := servableAsIs(src); err != nil {
			return Result{}, err
		} else if ok {
			return res, copyFile(ctx, src, dst)
		}
	}
	if err := t.ffmpeg(ctx, videoArgs(plan, in, dst, t.cfg.Threads)); err != nil {
		return Result{}, err
	}
	// Report what was written, not what was planned: the duration from
	// the output's own header (at its start, thanks to faststart).
	if res.Duration, err = mp4Duration(dst); err != nil {
		return Result{}, err
	}
	// ffmpeg skips what it cannot decode and carries on: an output much
	// shorter than its input means the input is broken.
	if want := min(m.Probe.Duration, MaxStatusSeconds); want > 0 && res.Duration < want*0.9-0.5 {
		return Result{}, fmt.Errorf("%w: only %.1f s of %.1f s could be decoded", ErrCorruptMedia, res.Duration, want)
	}
	return res, nil
}

// isISOBMFF reports whether ffprobe found an MP4/MOV/3GP container.
func isISOBMFF(p *Probe) bool {
	return strings.Contains(p.FormatName, "mp4") || strings.Contains(p.FormatName, "mov")
}

// boxesComplete reports whether the top-level boxes of the ISO BMFF file at
// path end exactly at its end.
func boxesComplete(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("transcode: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("transcode: %w", err)
	}
	walkBoxes(f, st.Size(), func(string, int64) bool { return false })
	pos, err := f.Seek(0, io.SeekCurrent)
	return err == nil && pos == st.Size(), nil
}

// mp4Duration reads the duration of an MP4 from its movie header (mvhd).
func mp4Duration(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("transcode: %w", err)
	}
	defer f.Close()
	moov, err := findBox(f, math.MaxInt64, "moov")
	if err != nil {
		return 0, err
	}
	mvhd, err := findBox(f, moov, "mvhd")
	if err != nil {
		return 0, err
	}
	var b [32]byte
	if _, err := io.ReadFull(f, b[:min(mvhd, 32)]); err != nil {
		return 0, fmt.Errorf("%w: mvhd: %w", ErrCorruptMedia, err)
	}
	var scale, dur uint64
	if b[0] == 1 { // version 1: 64-bit times
		scale, dur = uint64(binary.BigEndian.Uint32(b[20:24])), binary.BigEndian.Uint64(b[24:32])
	} else {
		scale, dur = uint64(binary.BigEndian.Uint32(b[12:16])), uint64(binary.BigEndian.Uint32(b[16:20]))
	}
	if scale == 0 {
		return 0, fmt.Errorf("%w: mvhd has no timescale", ErrCorruptMedia)
	}
	return float64(dur) / float64(scale), nil
}

// servableAsIs reports whether the file at path is an MP4 proper (its
// ftyp brand is not QuickTime's) with its index (moov) before its media
// data (mdat), so that players can start before the download ends: what a
// remux with +faststart would make. It reads only top-level box headers.
func servableAsIs(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("transcode: %w", err)
	}
	defer f.Close()
	var ftyp [12]byte
	if _, err := io.ReadFull(f, ftyp[:]); err != nil || string(ftyp[4:8]) != "ftyp" || string(ftyp[8:12]) == "qt  " {
		return false, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, fmt.Errorf("transcode: %w", err)
	}
	found := ""
	walkBoxes(f, math.MaxInt64, func(name string, _ int64) bool {
		if name == "moov" || name == "mdat" {
			found = name
			return true
		}
		return false
	})
	return found == "moov", nil
}

// findBox walks the boxes from f's position, within limit bytes, to the
// first of type name, and leaves f at its payload, whose size it returns.
func findBox(f io.ReadSeeker, limit int64, name string) (int64, error) {
	var payload int64 = -1
	walkBoxes(f, limit, func(n string, size int64) bool {
		if n == name {
			payload = size
			return true
		}
		return false
	})
	if payload < 0 {
		return 0, fmt.Errorf("%w: no %s box", ErrCorruptMedia, name)
	}
	return payload, nil
}

// walkBoxes reads ISO BMFF box headers from f's position, within limit
// bytes, calling stop with each box's type and payload size; when stop
// returns true, f is left at that box's payload. Malformed sizes end the
// walk.
func walkBoxes(f io.ReadSeeker, limit int64, stop func(name string, payload int64) bool) {
	var hdr [16]byte
	for limit >= 8 {
		if _, err := io.ReadFull(f, hdr[:8]); err != nil {
			return
		}
		size, hlen := int64(binary.BigEndian.Uint32(hdr[:4])), int64(8)
		if size == 1 {
			if _, err := io.ReadFull(f, hdr[8:16]); err != nil {
				return
			}
			size, hlen = int64(binary.BigEndian.Uint64(hdr[8:16])), 16
		}
		if size == 0 { // the box runs to the end of the file
			size = limit
		}
		if size < hlen || size > limit {
			return
		}
		if stop(string(hdr[4:8]), size-hlen) {
			return
		}
		if _, err := f.Seek(size-hlen, io.SeekCurrent); err != nil {
			return
		}
		limit -= size
	}
}

// copyFile copies src to dst, stopping when ctx ends.
func copyFile(ctx context.Context, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	_, err = io.Copy(out, readerFunc(func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return in.Read(p)
	}))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("transcode: copying %s: %w", src, err)
	}
	return nil
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
