package nix

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SplitName splits a store path (or its base name) into the package name
// and version the way nvd does: the base name is `<hash>-<rest>`; the name
// is the shortest non-empty prefix of rest that is followed by `-<digit>`,
// the version is everything after that dash minus a trailing ".drv". When
// no `-<digit>` follows, the name is rest (minus ".drv") and the version is
// empty. Output suffixes stay in the version: "util-linux-2.39.4-bin" gives
// ("util-linux", "2.39.4-bin").
func SplitName(storePath string) (name, version string) {
	rest := storePathRest(storePath)
	rest = strings.TrimSuffix(rest, ".drv")
	// The name needs at least one character, so the search starts at 1.
	for i := 1; i+1 < len(rest); i++ {
		if rest[i] == '-' && isDigit(rest[i+1]) {
			return rest[:i], rest[i+1:]
		}
	}
	return rest, ""
}

// storePathRest returns the part of a store path's base name after the
// hash: "/nix/store/abc-hello-2.12/bin/hello" gives "hello-2.12". Paths
// below the store object are cut to the object itself, as nvd does.
func storePathRest(p string) string {
	if after, ok := strings.CutPrefix(p, StoreDir+"/"); ok {
		p, _, _ = strings.Cut(after, "/")
	} else {
		p = path.Base(p)
	}
	if i := strings.IndexByte(p, '-'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// StoreDir is the Nix store every path nixdeck handles lives in.
const StoreDir = "/nix/store"

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Version is a package version split into the chunks Nix compares: runs of
// digits (numbers) and runs of letters (words); every other character only
// separates chunks.
type Version struct {
	// Text is the version as written ("" when the path has none).
	Text   string
	chunks []versionChunk
}

// versionChunk is one run; for numbers, digits has no leading zeros so that
// equal numbers compare equal without overflowing on long digit runs.
type versionChunk struct {
	num  bool
	text string
}

// ParseVersion splits s into comparable chunks. Chunks are substrings of
// s (no copies): a closure diff parses thousands of versions.
func ParseVersion(s string) Version {
	v := Version{Text: s}
	for i := 0; i < len(s); {
		switch r, n := decodeRune(s, i); {
		case isDigit(s[i]):
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			v.chunks = append(v.chunks, versionChunk{num: true, text: strings.TrimLeft(s[i:j], "0")})
			i = j
		case unicode.IsLetter(r):
			j := i + n
			for j < len(s) {
				r, n := decodeRune(s, j)
				if !unicode.IsLetter(r) {
					break
				}
				j += n
			}
			v.chunks = append(v.chunks, versionChunk{text: s[i:j]})
			i = j
		default:
			i += n
		}
	}
	return v
}

// decodeRune reads the rune at s[i], fast for ASCII.
func decodeRune(s string, i int) (rune, int) {
	if s[i] < utf8.RuneSelf {
		return rune(s[i]), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// Compare orders versions as nvd does (Nix's nix-env rule): chunk by chunk,
// two numbers numerically, "pre" below anything else, a number above a
// word, two words as strings; when one version's chunks are a prefix of the
// other's, the shorter sorts first (so nvd puts "1.0" below "1.0pre1").
// It returns -1, 0 or +1.
func (v Version) Compare(o Version) int {
	for i := 0; i < len(v.chunks) && i < len(o.chunks); i++ {
		if c := compareChunks(v.chunks[i], o.chunks[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(v.chunks) < len(o.chunks):
		return -1
	case len(v.chunks) > len(o.chunks):
		return 1
	}
	return 0
}

// Equal reports whether the versions have the same chunks ("1.0" and "1-0"
// are equal, as in nvd).
func (v Version) Equal(o Version) bool { return v.Compare(o) == 0 }

// CompareVersions compares two version strings; see Version.Compare.
func CompareVersions(a, b string) int { return ParseVersion(a).Compare(ParseVersion(b)) }

func compareChunks(x, y versionChunk) int {
	if x == y {
		return 0
	}
	switch {
	case x.num && y.num:
		if len(x.text) != len(y.text) {
			return sign(len(x.text) - len(y.text))
		}
		return strings.Compare(x.text, y.text)
	case !x.num && x.text == "pre":
		return -1
	case !y.num && y.text == "pre":
		return 1
	case x.num:
		return 1
	case y.num:
		return -1
	}
	return strings.Compare(x.text, y.text)
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
