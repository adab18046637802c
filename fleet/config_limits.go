package fleet

import (
	"fmt"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest fleet file Load reads: far beyond any real
// fleet, small enough that reading and parsing it stay instant.
const MaxFileSize = 4 << 20

// MaxAliasValues bounds what YAML aliases and merge keys may add to a
// fleet file: the values of the tree with every alias replaced by what it
// names, beyond those written out. yaml.v3 keeps aliases as pointers, but
// the loader walks through them, so a few hundred bytes of nested aliases
// (a "billion laughs") would otherwise mean minutes of work.
const MaxAliasValues = 1_000_000

// maxEncodingErrors is how many lines with bad bytes are listed; a binary
// file would list thousands.
const maxEncodingErrors = 10

// checkSize refuses data over MaxFileSize.
func checkSize(file string, size int64) FileErrors {
	if size <= MaxFileSize {
		return nil
	}
	return FileErrors{{File: file, Msg: fmt.Sprintf("the file is larger than %d MiB, the most a fleet file may be", MaxFileSize>>20)}}
}

// checkEncoding finds what the YAML parser reports without a position:
// UTF-16 or UTF-32 (a byte order mark, or NUL bytes), bytes that are not
// UTF-8, and control characters other than tab and line breaks. It lists
// the first bad character of each line, at most maxEncodingErrors lines.
func checkEncoding(file string, data []byte) FileErrors {
	if len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF) {
		return FileErrors{{File: file, Line: 1, Col: 1, Msg: "the file is UTF-16 (it starts with a byte order mark); save it as UTF-8"}}
	}
	var errs FileErrors
	line, col, badLine := 1, 0, 0
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		col++
		var msg string
		switch {
		case r == utf8.RuneError && n == 1:
			msg = fmt.Sprintf("byte 0x%02X is not UTF-8; save the file as UTF-8", data[i])
		case r == 0:
			msg = "NUL byte: is the file UTF-16 or binary? save it as UTF-8 text"
		case r == '\uFEFF' && i == 0, r == '\t', r == '\n', r == '\r':
		case r < 0x20 || 0x7F <= r && r <= 0x9F:
			msg = fmt.Sprintf("control character %U; write it as an escape in a double-quoted string", r)
		}
		if msg != "" && badLine != line {
			badLine = line
			if len(errs) == maxEncodingErrors {
				errs = append(errs, &FileError{File: file, Line: line, Col: col, Msg: "more lines have encoding errors; only the first ones are listed"})
				return errs
			}
			errs = append(errs, &FileError{File: file, Line: line, Col: col, Msg: msg})
		}
		// YAML's line breaks: LF, CR LF and a lone CR.
		if r == '\n' || r == '\r' && (i+1 == len(data) || data[i+1] != '\n') {
			line, col = line+1, 0
		}
		i += n
	}
	return errs
}

// sizeCap is where tree sizes saturate, far above any limit and far
// below an overflow.
const sizeCap = 1 << 40

// aliasExpansion checks that aliases add at most limit values to the
// document rooted at root. Sizes are computed once per node (so the check
// itself stays linear). An alias inside what it names counts as one
// value: the decoder never expands such a cycle.
func aliasExpansion(file string, root *yaml.Node, limit int) *FileError {
	s := sizer{memo: map[*yaml.Node]int{}, active: map[*yaml.Node]bool{}}
	written := countNodes(root)
	if total := s.size(root); total-written <= limit {
		return nil
	}
	a := s.biggest
	return &FileError{File: file, Line: a.Line, Col: a.Column,
		Msg: fmt.Sprintf("aliases expand the file by more than %d values (*%s alone brings in %s); a fleet file's aliases and merge keys may add at most %d",
			limit, a.Value, s.sizeText(a.Alias), limit)}
}

// sizer measures the tree with aliases replaced by what they name.
type sizer struct {
	memo    map[*yaml.Node]int
	active  map[*yaml.Node]bool // nodes being measured: an alias to one is a cycle
	biggest *yaml.Node          // the alias naming the largest value, for the message
}

func (s *sizer) size(n *yaml.Node) int {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if s.active[n.Alias] {
			return 1
		}
		v := s.size(n.Alias)
		if s.biggest == nil || v > s.memo[s.biggest.Alias] {
			s.biggest = n
		}
		return v
	}
	if v, ok := s.memo[n]; ok {
		return v
	}
	s.active[n] = true
	total := 1
	for _, c := range n.Content {
		total = min(total+s.size(c), sizeCap)
	}
	delete(s.active, n)
	s.memo[n] = total
	return total
}

// sizeText prints an alias target's size, saying when it saturated.
func (s *sizer) sizeText(n *yaml.Node) string {
	if v := s.memo[n]; v < sizeCap {
		return fmt.Sprintf("%d values", v)
	}
	return fmt.Sprintf("more than %d values", sizeCap)
}

// countNodes counts the nodes written out, aliases as one each.
func countNodes(n *yaml.Node) int {
	total := 1
	for _, c := range n.Content {
		total += countNodes(c)
	}
	return total
}
