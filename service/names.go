package service

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// cleanFileName returns the base name of an uploaded file's name, valid
// UTF-8 without control characters, at most 255 bytes with its extension
// kept; "upload" when nothing is left.
func cleanFileName(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = s[strings.LastIndexAny(s, `/\`)+1:]
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\uFEFF' {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "" || s == "." || s == ".." {
		return "upload"
	}
	stem, ext := splitExt(s)
	return truncate(stem, 255-len(ext)) + ext
}

// keyName is a file name made safe for an object key and a link: ASCII
// letters, digits, '.', '-' and '_' only, neither starting nor ending the
// name with '.' or '_', at most 100 bytes with the extension kept.
func keyName(name string) string {
	stem, ext := splitExt(name)
	var b strings.Builder
	for _, r := range stem {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-') {
			r = '_'
		}
		if r == '_' && strings.HasSuffix(b.String(), "_") {
			continue
		}
		b.WriteRune(r)
	}
	stem = strings.Trim(truncate(b.String(), 100-len(ext)), "._")
	if stem == "" {
		stem = "upload"
	}
	return stem + ext
}

// splitExt splits off an extension of a dot and 1 to 15 ASCII letters or
// digits; a leading dot is not one.
func splitExt(name string) (stem, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || len(name)-i < 2 || len(name)-i > 16 {
		return name, ""
	}
	for _, c := range []byte(name[i+1:]) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return name, ""
		}
	}
	return name[:i], name[i:]
}

// truncate cuts s to at most n bytes at a rune boundary.
func truncate(s string, n int) string {
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
