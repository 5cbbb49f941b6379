package transcode

import (
	"context"
	"fmt"
	"strconv"
)

// Audio output settings: MP3 that every phone plays.
const (
	audioBitrate    = "128k"
	audioSampleRate = "44100"
)

// audioArgs returns the ffmpeg arguments that make in into an MP3 at dst:
// at most MaxStatusSeconds read from the input (-t before -i stops reading
// there), the first audio stream only, no tags, no cover art.
func audioArgs(in input, dst string, threads int) []string {
	args := []string{
		"-nostdin", "-hide_banner", "-loglevel", "error", "-y",
		"-t", strconv.Itoa(MaxStatusSeconds)}
	args = append(args, in.args()...)
	args = append(args,
		"-map", "0:a:0", "-vn", "-sn", "-dn",
		"-map_metadata", "-1", "-map_chapters", "-1",
		"-c:a", "libmp3lame", "-b:a", audioBitrate, "-ar", audioSampleRate,
		"-id3v2_version", "0", "-write_id3v1", "0",
	)
	if threads > 0 {
		args = append(args, "-threads", strconv.Itoa(threads))
	}
	return append(args, "-f", "mp3", dst)
}

// prepareAudio writes src, sniffed as audio, to dst as an MP3 status.
func (t *Transcoder) prepareAudio(ctx context.Context, src, dst string, m Media, opts Options) (Result, error) {
	in, err := t.mediaInput(src, m)
	if err != nil {
		return Result{}, err
	}
	if err := t.ffmpeg(ctx, audioArgs(in, dst, t.cfg.Threads)); err != nil {
		return Result{}, err
	}
	p, err := t.probe(ctx, dst, "mp3")
	if err != nil {
		return Result{}, fmt.Errorf("probing the prepared audio: %w", err)
	}
	return Result{ContentType: ContentTypeFor(KindAudio), Duration: p.Duration}, nil
}

// ffmpeg runs ffmpeg with args under the run deadline. A failure that is
// not a deadline or a cancellation means ffmpeg could not decode the input:
// it wraps ErrCorruptMedia, with ffmpeg's own complaint.
func (t *Transcoder) ffmpeg(ctx context.Context, args []string) error {
	err := t.exec(ctx, t.cfg.RunTimeout, nil, t.cfg.FFmpeg, args...)
	if err != nil && CodeOf(err) == CodeInternal && ctx.Err() == nil {
		return fmt.Errorf("%w: %w", ErrCorruptMedia, err)
	}
	return err
}
