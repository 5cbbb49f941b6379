//go:build !cgo || purego

package transcode

import (
	"image"
	"io"
)

// Without cgo, JPEG goes through image/jpeg (see jpeg_turbo.go).

func decodeJPEGFast(data []byte, shrink int) (*image.YCbCr, bool, error) { return nil, false, nil }

func encodeJPEGFast(w io.Writer, m *image.YCbCr, quality int) (bool, error) { return false, nil }
