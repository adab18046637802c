package termtext

import (
	"unicode/utf16"
	"unicode/utf8"
)

// JSON returns the encoded JSON text b with the characters that
// encoding/json leaves raw but a terminal would obey or hide (DEL, the C1
// controls, the format characters of hidden) written as \u escapes. The
// JSON value is unchanged: a decoder reads the same strings, byte for byte,
// so `--json` stays exact and is still safe to print. encoding/json already
// escapes the C0 controls and U+2028/U+2029, and its output is valid UTF-8;
// these characters can only occur inside its strings, where a \u escape
// means the same character.
func JSON(b []byte) []byte {
	var out []byte
	done := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf && c != 0x7f {
			i++
			continue
		}
		r, n := rune(c), 1
		if c >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(b[i:])
		}
		if r == utf8.RuneError || !hidden(r) {
			i += n
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b)+16)
		}
		out = append(out, b[done:i]...)
		if r > 0xffff {
			hi, lo := utf16.EncodeRune(r)
			out = append(out, runeEscape(hi)...)
			out = append(out, runeEscape(lo)...)
		} else {
			out = append(out, runeEscape(r)...)
		}
		i += n
		done = i
	}
	if out == nil {
		return b
	}
	return append(out, b[done:]...)
}
