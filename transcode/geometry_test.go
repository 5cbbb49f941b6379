package transcode

import (
	"image"
	"testing"
)

func TestCenterCrop(t *testing.T) {
	tests := []struct {
		name string
		w, h int
		want image.Rectangle
	}{
		{"landscape 12MP", 4032, 3024, image.Rect(1165, 0, 2866, 3024)},
		{"portrait 12MP", 3024, 4032, image.Rect(378, 0, 2646, 4032)},
		{"already 9:16", 1080, 1920, image.Rect(0, 0, 1080, 1920)},
		{"tall strip", 100, 1000, image.Rect(0, 411, 100, 589)},
		{"square tiny", 90, 90, image.Rect(19, 0, 70, 90)},
		{"one pixel", 1, 1, image.Rect(0, 0, 1, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := centerCrop(tt.w, tt.h, aspectW, aspectH)
			if got != tt.want {
				t.Fatalf("centerCrop(%d, %d) = %v, want %v", tt.w, tt.h, got, tt.want)
			}
			if !got.In(image.Rect(0, 0, tt.w, tt.h)) {
				t.Fatalf("crop %v is outside the %dx%d picture", got, tt.w, tt.h)
			}
			// 9:16 within a pixel: the height that the width implies
			// differs from the real height by at most one pixel's worth.
			dx, dy := got.Dx(), got.Dy()
			if d := float64(dx)*16/9 - float64(dy); (d > 16.0/9 || d < -16.0/9) && dx > 1 && dy > 1 {
				t.Fatalf("crop %dx%d is not 9:16 within a pixel", dx, dy)
			}
		})
	}
}

func TestFitWithin(t *testing.T) {
	tests := []struct {
		w, h, mw, mh int
		wantW, wantH int
	}{
		{1701, 3024, 1080, 1920, 1080, 1920},
		{3840, 2160, 1920, 1080, 1920, 1080},
		{90, 160, 1080, 1920, 90, 160},       // never up
		{1080, 1920, 1080, 1920, 1080, 1920}, // exact
		{4000, 1000, 1920, 1080, 1920, 480},
		{1000, 4000, 1080, 1920, 480, 1920},
		{10000, 1, 1920, 1080, 1920, 1},
	}
	for _, tt := range tests {
		gw, gh := fitWithin(tt.w, tt.h, tt.mw, tt.mh)
		if gw != tt.wantW || gh != tt.wantH {
			t.Errorf("fitWithin(%d, %d, %d, %d) = %d×%d, want %d×%d", tt.w, tt.h, tt.mw, tt.mh, gw, gh, tt.wantW, tt.wantH)
		}
	}
}

func TestStatusBoxAndEven(t *testing.T) {
	if w, h := statusBox(1920, 1080); w != 1920 || h != 1080 {
		t.Errorf("landscape box = %d×%d", w, h)
	}
	if w, h := statusBox(1080, 1080); w != 1080 || h != 1920 {
		t.Errorf("square box = %d×%d", w, h)
	}
	for in, want := range map[int]int{0: 2, 1: 2, 2: 2, 3: 2, 1079: 1078, 1080: 1080} {
		if got := even(in); got != want {
			t.Errorf("even(%d) = %d, want %d", in, got, want)
		}
	}
}
