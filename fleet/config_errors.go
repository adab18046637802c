package fleet

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// FileError is one problem in a fleet file. It prints as
// `file:line:col: key: message`, like a compiler error.
type FileError struct {
	// File is the fleet file's path as it was given to Load.
	File string
	// Line and Col are 1-based; 0 when unknown.
	Line, Col int
	// Key is the dotted key path ("nodes.web01.port", "deploy.health[1].run");
	// "" when the error is about the file as a whole.
	Key string
	// Msg says what is wrong.
	Msg string
}

// Error prints `file:line:col: key: message`, leaving out what is unknown.
func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	if e.Key != "" {
		b.WriteString(": " + visible(e.Key))
	}
	b.WriteString(": " + visible(e.Msg))
	return b.String()
}

// visible escapes the characters a terminal would act on or hide (control
// and invisible ones, which keys and explicitly tagged values from the
// file may hold) as Go escapes; the rest stays as written.
func visible(s string) string {
	// An invalid byte such as 0x9B is a CSI to some terminals.
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// FileErrors is every problem found in one fleet file, sorted by position.
// Load returns it whenever the file is invalid; errors.As finds the
// individual *FileError values through Unwrap.
type FileErrors []*FileError

// Error prints one error per line.
func (es FileErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each *FileError to errors.Is and errors.As.
func (es FileErrors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// sort orders the errors by position; errors without a line come first.
func (es FileErrors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
}

// yamlLineRE matches the syntax errors of go.yaml.in/yaml/v3.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML parser error into a FileError with its line.
func syntaxError(file string, err error) *FileError {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FileError{File: file, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return &FileError{File: file, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

// describe names a YAML value for "expected X, got Y" messages.
func describe(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch v.ShortTag() {
	case "!!str":
		return fmt.Sprintf("%q (a string)", v.Value)
	case "!!int":
		return v.Value + " (an integer)"
	case "!!float":
		return v.Value + " (a number)"
	case "!!bool":
		return v.Value + " (a boolean)"
	case "!!null":
		return "nothing"
	}
	return fmt.Sprintf("%q (%s)", v.Value, v.ShortTag())
}

// suggest returns the known word closest to w when it is a likely typo.
func suggest(w string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(w, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" || bestD > len(w)/2 {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours cost 1.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
