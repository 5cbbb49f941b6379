package pipeline

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// A file's name is used two ways, each with one function here:
//
//   - DisplayName is the name a person sees (the fileName of an upload, a
//     stored file's download name): UTF-8 is fine, nothing invisible or
//     misleading is.
//   - Slug (and SlugName, for a whole file name) is plain ASCII that is safe
//     in an object key and a link: prepared files are stored under
//     statuses/<digest>-<Slug of the source's stem>.<ext>, and uploads under
//     uploads/<id>/<SlugName>.
//
// Stored files are found again by their keys, so Slug's output must never
// change for a given input: a changed slug is a new key, and the file is
// prepared and stored again instead of reused.

// maxDisplayName caps a display name in bytes: what file systems allow.
const maxDisplayName = 255

// DisplayName returns the name to show for a file called name (as a
// browser, a bucket key or a path gives it): its last path element (after
// '/' or '\'), valid UTF-8 without control characters, bidirectional
// overrides or a byte order mark, trimmed of spaces, at most 255 bytes
// with its extension kept. It is "" when nothing is left (or only dots):
// the caller picks the default.
func DisplayName(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	name = strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if strings.Trim(name, ". ") == "" {
		return ""
	}
	stem, ext := splitExt(name)
	return truncate(stem, maxDisplayName-len(ext)) + ext
}

// invisible reports whether r is a character a display name drops: a
// control character, a bidirectional control (U+202E turns "gpj.exe" into
// what reads as "exe.jpg"), a byte order mark, a line or paragraph
// separator.
func invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\uFEFF' ||
		unicode.In(r, unicode.Zl, unicode.Zp)
}

// Slug turns a file name stem into plain ASCII that is safe in a link: Green
// API has trouble with spaces and symbols in URLs. ASCII letters, digits and
// '_' are kept (lower-cased), runs of anything else become one '-', and the
// result is cut at 64 bytes. An empty result is "status".
func Slug(s string) string {
	const maxLen = 64
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if b.Len() >= maxLen {
			break
		}
		if r >= unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
			dash = true
			continue
		}
		if dash && b.Len() > 0 && b.Len() < maxLen-1 {
			b.WriteByte('-')
		}
		dash = false
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "status"
	}
	return b.String()
}

// SlugName is Slug for a whole file name: the Slug of its stem, then its
// extension lower-cased when it is one ("My Photo (1).JPG" →
// "my-photo-1.jpg"). Only the last path element counts.
func SlugName(name string) string {
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	stem, ext := splitExt(name)
	return Slug(stem) + strings.ToLower(ext)
}

// splitExt splits off an extension: a dot and 1 to 15 ASCII letters or
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
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
