package grapheme

import (
	"strings"
	"testing"
)

func TestCount(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"empty", "", 0},
		{"ascii", "hello", 5},
		{"cyrillic", "лошадка", 7},
		{"combining acute", "e\u0301", 1},
		{"combining two marks", "a\u0301\u0323b", 2},
		{"precomposed", "é", 1},
		{"thumbs up skin tone", "👍🏽", 1},
		{"family zwj", "👨‍👩‍👧", 1},
		{"flag", "🇷🇺", 1},
		{"two flags", "🇷🇺🇺🇦", 2},
		{"three regional indicators", "🇷🇺🇺", 2},
		{"heart with vs16", "❤️", 1},
		{"keycap", "1️⃣", 1},
		{"england flag tags", "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", 1},
		{"skin tone zwj", "👩🏽‍💻", 1},
		{"mixed", "Привет 👋🏻!", 9},
		{"crlf", "a\r\nb", 3},
		{"lone zwj at start", "\u200d", 1},
		{"lone mark at start", "\u0301", 1},
		{"invalid utf8", "a\xffb", 3},
		{"cjk", "漢字", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Count(tt.in); got != tt.want {
				t.Errorf("Count(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestCountLong(t *testing.T) {
	if got := Count(strings.Repeat("👍🏽", 1024)); got != 1024 {
		t.Errorf("Count = %d, want 1024", got)
	}
}

func FuzzCount(f *testing.F) {
	for _, s := range []string{"", "👨‍👩‍👧", "🇷🇺🇺", "e\u0301", "\r\n", "a\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Count(s)
		if n < 0 || n > len(s) {
			t.Fatalf("Count(%q) = %d out of range", s, n)
		}
		if s != "" && n == 0 {
			t.Fatalf("Count(%q) = 0 for a non-empty string", s)
		}
	})
}
