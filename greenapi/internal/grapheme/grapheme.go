// Package grapheme counts user-perceived characters, the way Green API's
// limits (caption ≤ 1024, message ≤ 500 characters) are meant: an emoji
// with its skin tone, ZWJ sequence or variation selector, a flag, a keycap
// or a letter with combining accents is one character.
//
// The counting is Unicode's extended grapheme clusters (UAX #29) from
// github.com/rivo/uniseg, a well-kept implementation of the standard; this
// package only pins down, in its tests, the cases the limits depend on.
package grapheme

import "github.com/rivo/uniseg"

// Count returns the number of user-perceived characters in s. Invalid UTF-8
// bytes count one each.
func Count(s string) int { return uniseg.GraphemeClusterCount(s) }
