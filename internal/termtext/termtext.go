// Package termtext makes text that came from a host safe to print on a
// terminal. A host chooses its version string, its lock holder, its file
// names and contents and the stderr that ends up in error messages; printed
// raw, an ESC or a C1 control starts a sequence the terminal obeys (clear
// the screen, write the clipboard with OSC 52, retitle the window), a CR
// overwrites what was printed before it, and a bidi override reorders the
// text that follows. Every printer of host text passes it through Visible
// (one line: table cells, names) or VisibleLines (log lines, diff hunks,
// error text) at the print boundary; the values themselves, and JSON, stay
// exact.
//
// The escapes are \xHH for a byte (C0 controls, DEL, bytes that are not
// UTF-8) and \uHHHH or \UHHHHHHHH for a character (C1 controls, format
// characters, line and paragraph separators). There is no \\, \n or \t: a
// backslash is printed as it is, so that the backslashes of shell scripts,
// regular expressions and prompts (printf '\n', \d, \u@\h) read unchanged,
// except where the text after it would read as one of the escapes above (a
// literal "\x1b"); that backslash is written \x5c. So every output decodes
// to exactly one input.
package termtext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Visible returns s with everything a terminal would not show as itself
// escaped, including newlines and tabs: for text that must stay on one line.
// Text with nothing to escape is returned as it is, without allocating.
func Visible(s string) string { return escape(s, false) }

// VisibleLines is Visible for text of several lines: newlines and tabs are
// kept, everything else is escaped as by Visible.
func VisibleLines(s string) string { return escape(s, true) }

func escape(s string, lines bool) string {
	var b strings.Builder
	done := 0 // s[:done] has been written to b; 0 and b empty until the first escape
	for i := 0; i < len(s); {
		c := s[i]
		// The common case first: printable ASCII other than a backslash.
		if c >= 0x20 && c < 0x7f && c != '\\' {
			i++
			continue
		}
		n, esc := 1, ""
		switch {
		case c == '\\':
			if !readsAsEscape(s[i+1:]) {
				i++
				continue
			}
			esc = byteEscape(c)
		case c < utf8.RuneSelf:
			if lines && (c == '\n' || c == '\t') {
				i++
				continue
			}
			esc = byteEscape(c)
		default:
			var r rune
			r, n = utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && n == 1:
				esc = byteEscape(c)
			case hidden(r):
				esc = runeEscape(r)
			default:
				i += n
				continue
			}
		}
		if done == 0 && b.Len() == 0 {
			b.Grow(len(s) + 4*len(esc))
		}
		b.WriteString(s[done:i])
		b.WriteString(esc)
		i += n
		done = i
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// hidden reports whether a character beyond the C0 range must be escaped:
// DEL, the C1 controls (U+0080-U+009F, among them CSI U+009B, which some terminals
// obey as ESC [), the line and paragraph separators, and the format
// characters (category Cf: the bidi embeddings, overrides and isolates
// U+202A-U+202E and U+2066-U+2069, the marks U+200E, U+200F and U+061C,
// zero-width spaces and joiners, the soft hyphen, U+FEFF, the tag
// characters), which are invisible or reorder the text around them. The
// zero-width joiners of emoji sequences are escaped too: a name that needs
// them is rare, one that hides behind them is what this guards against.
func hidden(r rune) bool {
	return 0x7f <= r && r <= 0x9f || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r)
}

// readsAsEscape reports whether rest, the text after a backslash, starts
// like one of the escapes this package writes.
func readsAsEscape(rest string) bool {
	var digits int
	switch {
	case strings.HasPrefix(rest, "x"):
		digits = 2
	case strings.HasPrefix(rest, "u"):
		digits = 4
	case strings.HasPrefix(rest, "U"):
		digits = 8
	default:
		return false
	}
	if len(rest) < 1+digits {
		return false
	}
	for _, c := range []byte(rest[1 : 1+digits]) {
		if !isHex(c) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

const hexDigits = "0123456789abcdef"

func byteEscape(c byte) string {
	return string([]byte{'\\', 'x', hexDigits[c>>4], hexDigits[c&0xf]})
}

func runeEscape(r rune) string {
	prefix, digits := `\u`, 4
	if r > 0xffff {
		prefix, digits = `\U`, 8
	}
	out := []byte(prefix)
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		out = append(out, hexDigits[(r>>shift)&0xf])
	}
	return string(out)
}
