// Package transcode turns raw media into files that a WhatsApp status
// accepts: it sniffs the type from the bytes, then makes video into MP4
// (H.264/AAC, at most 60 s, at most 16 MiB), audio into MP3 (at most 60 s,
// no tags) and pictures into 9:16 JPEG.
//
// Video and audio go through the ffmpeg and ffprobe programs, each run bound
// to a context and a deadline and killed with its process group. They read
// an input only through the file protocol and only with the demuxers of its
// sniffed type (limits.go): a playlist or manifest, which would make ffmpeg
// open the files it names, never reaches them. Pictures are decoded in Go
// (HEIC/AVIF through libheif's heif-convert), PNG a strip of rows at a time
// (pngstrip.go), each shrunk for the output while it is converted. What a
// file declares (pixels, the memory its decoding takes, frame rate,
// duration, channels, sample rate) is checked against the Config limits
// before anything decodes it.
//
// The package knows nothing of storage or Green API: pipeline strings it
// together with them.
package transcode
