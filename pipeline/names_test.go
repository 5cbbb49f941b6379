package pipeline

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestNames: each file-name concept on ordinary and hostile names. Slug's
// outputs are the stems of prepared keys: a changed one is a new key, and
// the stored file is no longer found (see TestSlug).
func TestNames(t *testing.T) {
	long := strings.Repeat("x", 1000) + ".jpeg"
	cyrillic := strings.Repeat("ж", 500) + ".mp4" // 1004 bytes
	for _, tt := range []struct {
		in, display, slugName string
	}{
		{"photo.jpg", "photo.jpg", "photo.jpg"},
		{"Holiday photo (1).JPG", "Holiday photo (1).JPG", "holiday-photo-1.jpg"},
		{`C:\Users\me\Видео отпуск.mp4`, "Видео отпуск.mp4", "status.mp4"},
		{"Отпуск", "Отпуск", "status"},
		{"x.tar.gz", "x.tar.gz", "x-tar.gz"},
		{"résumé (final).PNG", "résumé (final).PNG", "r-sum-final.png"},
		{"../../etc/passwd", "passwd", "passwd"},
		{"../", "", "status"},
		{"..", "", "status"},
		{".", "", "status"},
		{"....", "", "status"},
		{"   ", "", "status"},
		{"", "", "status"},
		{".hidden.png", ".hidden.png", "hidden.png"},
		{"a\x00b\nc\xff.jpg", "abc.jpg", "a-b-c.jpg"},                 // NUL, newline, invalid UTF-8
		{"invoice\u202Egpj.exe", "invoicegpj.exe", "invoice-gpj.exe"}, // RTL override: no "exe.jpg" look-alike
		{"\uFEFFphoto.jpg", "photo.jpg", "photo.jpg"},                 // BOM
		{"line\u2028break.mp4", "linebreak.mp4", "line-break.mp4"},
		{"👨\u200d👩\u200d👧 family.jpg", "👨\u200d👩\u200d👧 family.jpg", "family.jpg"}, // ZWJ joins emoji: kept
		{"name.verylongextension123", "name.verylongextension123", "name-verylongextension123"},
		{"-rf.jpg", "-rf.jpg", "rf.jpg"},
		{long, strings.Repeat("x", 250) + ".jpeg", strings.Repeat("x", 64) + ".jpeg"},
		{cyrillic, strings.Repeat("ж", 125) + ".mp4", "status.mp4"},
	} {
		if got := DisplayName(tt.in); got != tt.display {
			t.Errorf("DisplayName(%.40q) = %.40q, want %.40q", tt.in, got, tt.display)
		}
		if got := SlugName(tt.in); got != tt.slugName {
			t.Errorf("SlugName(%.40q) = %q, want %q", tt.in, got, tt.slugName)
		}
		d := DisplayName(tt.in)
		if DisplayName(d) != d || len(d) > 255 || !utf8.ValidString(d) || strings.ContainsAny(d, "/\\\x00\u202E\uFEFF") {
			t.Errorf("DisplayName(%.40q) = %.40q: not a clean, stable name", tt.in, d)
		}
		if s := SlugName(tt.in); strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_-.") != "" || len(s) > 64+16 {
			t.Errorf("SlugName(%.40q) = %q: not plain ASCII", tt.in, s)
		}
	}
}

// TestPreparedKeyStemsUnchanged pins the Slug of hostile stems: prepared
// keys are named after them and reused by key.
func TestPreparedKeyStemsUnchanged(t *testing.T) {
	for in, want := range map[string]string{
		"..":                      "status",
		"source.hidden":           "source-hidden", // service.sourceName of ".hidden.png"
		"a\x00b":                  "a-b",
		"invoice\u202Egpj":        "invoice-gpj",
		"\uFEFFphoto":             "photo",
		strings.Repeat("x", 1000): strings.Repeat("x", 64),
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%.40q) = %q, want %q", in, got, want)
		}
	}
}
