package transcode

import (
	"context"
	"errors"
)

// prepareAudio writes the prepared audio made from src to dst.
func (t *Transcoder) prepareAudio(ctx context.Context, src, dst string, m Media, opts Options) (Result, error) {
	return Result{}, errors.New("transcode: audio: not implemented")
}
