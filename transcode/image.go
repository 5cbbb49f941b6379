package transcode

import (
	"context"
	"errors"
)

// prepareImage writes the prepared image made from src to dst.
func (t *Transcoder) prepareImage(ctx context.Context, src, dst string, m Media, opts Options) (Result, error) {
	return Result{}, errors.New("transcode: image: not implemented")
}
