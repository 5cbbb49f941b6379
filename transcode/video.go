package transcode

import (
	"context"
	"errors"
)

// prepareVideo writes the prepared video made from src to dst.
func (t *Transcoder) prepareVideo(ctx context.Context, src, dst string, m Media, opts Options) (Result, error) {
	return Result{}, errors.New("transcode: video: not implemented")
}
