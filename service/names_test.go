package service

import (
	"strings"
	"testing"
)

func TestFileNames(t *testing.T) {
	tests := []struct{ in, clean, key string }{
		{"photo.jpg", "photo.jpg", "photo.jpg"},
		{`C:\Users\me\Видео отпуск.mp4`, "Видео отпуск.mp4", "upload.mp4"},
		{"Отпуск", "Отпуск", "upload"},
		{"x.tar.gz", "x.tar.gz", "x.tar.gz"},
		{"résumé (final).PNG", "résumé (final).PNG", "r_sum_final.PNG"},
		{"../../etc/passwd", "passwd", "passwd"},
		{".hidden.png", ".hidden.png", "hidden.png"},
		{"..", "upload", "upload"},
		{"", "upload", "upload"},
		{"a\x00b\nc\xff.jpg", "abc.jpg", "abc.jpg"},
		{"a b&c?d#e.jpg", "a b&c?d#e.jpg", "a_b_c_d_e.jpg"},
		{strings.Repeat("x", 300) + ".jpeg", strings.Repeat("x", 250) + ".jpeg", strings.Repeat("x", 95) + ".jpeg"},
	}
	for _, tt := range tests {
		clean := cleanFileName(tt.in)
		if clean != tt.clean {
			t.Errorf("cleanFileName(%q) = %q, want %q", tt.in, clean, tt.clean)
		}
		if key := keyName(clean); key != tt.key {
			t.Errorf("keyName(%q) = %q, want %q", clean, key, tt.key)
		}
	}
}
