// Package grapheme counts user-perceived characters the way a WhatsApp user
// would count them: a small subset of Unicode extended grapheme clusters
// (UAX #29) that covers what status texts contain.
//
// One character is a base rune plus everything that attaches to it:
// combining marks (Mn, Me, Mc), variation selectors, emoji skin-tone
// modifiers, tag characters (subdivision flags), and a zero-width joiner
// together with the rune it joins. Two regional indicators form one flag.
// CR LF counts as one. Hangul jamo sequences and Indic conjuncts are not
// special-cased: they count per rune, which only ever over-counts, so a
// limit check stays on the safe side.
package grapheme

import (
	"unicode"
	"unicode/utf8"
)

const zwj = '\u200d'

// Count returns the number of user-perceived characters in s.
// Invalid UTF-8 bytes count as one character each.
func Count(s string) int {
	n := 0
	prev := rune(-1) // previous rune of the current cluster, -1 at the start
	joined := false  // the previous rune was a ZWJ: the next rune joins
	riOpen := false  // the current cluster is a single regional indicator
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch {
		case prev < 0:
			n++
			riOpen = isRegional(r)
		case joined && !isControl(r):
			// ZWJ glues this rune to the cluster (👨‍👩‍👧).
			riOpen = false
		case r == zwj || extends(r):
			if prev == '\r' || prev == '\n' || isControl(prev) {
				n++ // marks after a control start their own cluster
			}
		case prev == '\r' && r == '\n':
			// CR LF is one character.
		case riOpen && isRegional(r):
			riOpen = false // the second half of a flag
		default:
			n++
			riOpen = isRegional(r)
		}
		joined = r == zwj
		prev = r
	}
	return n
}

// extends reports whether r attaches to the preceding character.
func extends(r rune) bool {
	switch {
	case r >= 0xFE00 && r <= 0xFE0F, // variation selectors (❤️)
		r >= 0xE0100 && r <= 0xE01EF, // variation selectors supplement
		r >= 0x1F3FB && r <= 0x1F3FF, // emoji modifiers (skin tones)
		r >= 0xE0020 && r <= 0xE007F: // tags (🏴 subdivision flags)
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc)
}

func isRegional(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

func isControl(r rune) bool { return r == '\r' || r == '\n' || unicode.IsControl(r) }
