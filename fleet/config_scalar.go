package fleet

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// decoder walks the YAML node tree of one fleet file and collects every
// error it finds, so that an operator sees all of them at once.
type decoder struct {
	file    string // as given to Load, for messages
	dir     string // absolute directory, for relative paths
	home    string // for ~ expansion; "" when unknown
	homeErr error  // why home is unknown
	errs    FileErrors
	// expanding holds the mappings whose entries are being listed, to
	// catch merge keys that bring in their own mapping.
	expanding map[*yaml.Node]bool
	// varUses are the {vars.NAME} of health check URLs, checked against
	// the nodes once they are known.
	varUses []varUse
}

// errorf records an error at v's position for the value of key.
func (d *decoder) errorf(v *yaml.Node, key, format string, args ...any) {
	d.errs = append(d.errs, &FileError{File: d.file, Line: v.Line, Col: v.Column, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// deref follows YAML aliases (*anchor) to the value they name.
func deref(v *yaml.Node) *yaml.Node {
	for v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	return v
}

// scalar checks that v is a scalar of one of the given tags.
func (d *decoder) scalar(v *yaml.Node, key, want string, tags ...string) bool {
	if v.Kind == yaml.ScalarNode && slices.Contains(tags, v.ShortTag()) {
		return true
	}
	d.errorf(v, key, "expected %s, got %s", want, describe(v))
	return false
}

// str decodes a string. Bare numbers are accepted as strings (a host named
// 1234 is still a host name); booleans, lists and mappings are not, nor
// are control characters (a double-quoted "\e[2J" would reach terminals
// and ssh as it is).
func (d *decoder) str(v *yaml.Node, key string) (string, bool) {
	return d.text(v, key, "")
}

// text is str allowing the control characters in allowed ("\t\n" for
// a multi-line command).
func (d *decoder) text(v *yaml.Node, key, allowed string) (string, bool) {
	if !d.scalar(v, key, "a string", "!!str", "!!int", "!!float") {
		return "", false
	}
	if i := strings.IndexFunc(v.Value, func(r rune) bool { return unicode.IsControl(r) && !strings.ContainsRune(allowed, r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v.Value[i:])
		d.errorf(v, key, "%q contains a control character (%U)", v.Value, r)
		return "", false
	}
	return v.Value, true
}

// printable checks that s, a name that ends up in terminals and on the
// wire (host, user, jump), has no invisible characters either, such as
// U+202E, which reverses the text shown after it.
func (d *decoder) printable(v *yaml.Node, key, s string) bool {
	if i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		d.errorf(v, key, "%q has an invisible character (%U)", s, r)
		return false
	}
	return true
}

// integer decodes an integer within [lo, hi]; what says what the number is
// for ("a port (1-65535)") in the range error. A number too large for 64
// bits is named as an overflow: yaml.v3 tags it a float (or, in hex, a
// string), which would otherwise read "expected an integer".
func (d *decoder) integer(v *yaml.Node, key string, lo, hi int, what string) (int, bool) {
	if !isIntLiteral(v) && !d.scalar(v, key, "an integer", "!!int") {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Value, 0, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		d.errorf(v, key, "%s overflows: it is not %s", v.Value, what)
	case err != nil || n < int64(lo) || n > int64(hi):
		d.errorf(v, key, "%s is not %s", v.Value, what)
	default:
		return int(n), true
	}
	return 0, false
}

// intLiteralRE matches the integers yaml.v3 writes and Go parses:
// decimal, 0x, 0o and 0b, with underscores.
var intLiteralRE = regexp.MustCompile(`^[-+]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$`)

// isIntLiteral reports a plain (unquoted) scalar written as an integer,
// whatever tag yaml.v3 gave it.
func isIntLiteral(v *yaml.Node) bool {
	return v.Kind == yaml.ScalarNode && v.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 &&
		slices.Contains([]string{"!!int", "!!float", "!!str"}, v.ShortTag()) && intLiteralRE.MatchString(v.Value)
}

// port decodes a TCP port.
func (d *decoder) port(v *yaml.Node, key string) (int, bool) {
	return d.integer(v, key, 1, 65535, "a port (1-65535)")
}

// boolean decodes true or false.
func (d *decoder) boolean(v *yaml.Node, key string) (bool, bool) {
	if !d.scalar(v, key, "true or false", "!!bool") {
		return false, false
	}
	b, err := strconv.ParseBool(strings.ToLower(v.Value))
	if err != nil {
		d.errorf(v, key, "expected true or false, got %q", v.Value)
	}
	return b, err == nil
}

// durationRE matches Go's duration syntax, to tell a duration too long
// for time.Duration (about 292 years) from text that is not one.
var durationRE = regexp.MustCompile(`^[-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+$`)

// duration decodes a Go duration ("30s", "10m", "1h30m") of at least lo.
func (d *decoder) duration(v *yaml.Node, key string, lo time.Duration) (time.Duration, bool) {
	if !d.scalar(v, key, "a duration", "!!str", "!!int", "!!float") {
		return 0, false
	}
	t, err := time.ParseDuration(v.Value)
	switch {
	case err != nil && v.ShortTag() != "!!str":
		d.errorf(v, key, "%s has no unit (e.g. %[1]ss, %[1]sm)", v.Value)
		return 0, false
	case err != nil && durationRE.MatchString(v.Value):
		d.errorf(v, key, "%q overflows: a duration is at most %dh (about 292 years)", v.Value, math.MaxInt64/int64(time.Hour))
		return 0, false
	case err != nil:
		d.errorf(v, key, "%q is not a duration (e.g. 30s, 10m, 1h30m)", v.Value)
		return 0, false
	case t < lo:
		d.errorf(v, key, "%s is too short (at least %s)", v.Value, lo)
		return 0, false
	}
	return t, true
}

// enum decodes a string that must be one of allowed.
func (d *decoder) enum(v *yaml.Node, key string, allowed ...string) (string, bool) {
	s, ok := d.str(v, key)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, s) {
		d.errorf(v, key, "%q is not one of %s", s, joinWords(allowed))
		return "", false
	}
	return s, true
}

// batch decodes a wave size: a count ("3") or a percentage ("25%").
func (d *decoder) batch(v *yaml.Node, key string) (Batch, bool) {
	s, ok := d.str(v, key)
	if !ok {
		return Batch{}, false
	}
	b, err := ParseBatch(s)
	if err != nil {
		d.errorf(v, key, "%s", err)
		return Batch{}, false
	}
	return b, true
}

// ParseBatch reads a wave size as the fleet file and --batch write it: a
// host count ("3") or a percentage ("25%").
func ParseBatch(s string) (Batch, error) {
	if p, isPct := strings.CutSuffix(s, "%"); isPct {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 100 {
			return Batch{}, fmt.Errorf("%q %s a percentage (1%%-100%%)", s, overflows(err))
		}
		return Batch{Percent: n}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return Batch{}, fmt.Errorf("%q %s a host count (1 or more) or a percentage (25%%)", s, overflows(err))
	}
	return Batch{Count: n}, nil
}

// overflows starts the message about a number that is not what it should
// be: "overflows: it is not" when err is strconv's range error, else "is
// not".
func overflows(err error) string {
	if errors.Is(err, strconv.ErrRange) {
		return "overflows: it is not"
	}
	return "is not"
}

// strList decodes a list of strings; a single string is accepted as a
// one-element list only when single is true. The returned nodes give each
// element's position.
func (d *decoder) strList(v *yaml.Node, key string, single bool) ([]string, []*yaml.Node, bool) {
	if single && v.Kind == yaml.ScalarNode {
		s, ok := d.str(v, key)
		return []string{s}, []*yaml.Node{v}, ok
	}
	if v.Kind != yaml.SequenceNode {
		d.errorf(v, key, "expected a list, got %s", describe(v))
		return nil, nil, false
	}
	var out []string
	var nodes []*yaml.Node
	ok := true
	for i, e := range v.Content {
		e = deref(e)
		s, good := d.str(e, fmt.Sprintf("%s[%d]", key, i))
		ok = ok && good
		out = append(out, s)
		nodes = append(nodes, e)
	}
	return out, nodes, ok
}

// path decodes a file path: ~ expands to the home directory and relative
// paths resolve against the fleet file's directory.
func (d *decoder) path(v *yaml.Node, key string) (string, bool) {
	s, ok := d.str(v, key)
	if !ok {
		return "", false
	}
	if s == "" {
		d.errorf(v, key, "must not be empty")
		return "", false
	}
	return d.resolve(v, key, s)
}

// resolve makes p absolute; it is separate from path for values that are
// only sometimes paths (flake references).
func (d *decoder) resolve(v *yaml.Node, key, p string) (string, bool) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if d.homeErr != nil {
			d.errorf(v, key, "cannot expand ~: %v", d.homeErr)
			return "", false
		}
		return filepath.Join(d.home, p[1:]), true
	}
	if strings.HasPrefix(p, "~") {
		d.errorf(v, key, "%q: only ~/ is expanded, not ~user", p)
		return "", false
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(d.dir, p)
	}
	return filepath.Clean(p), true
}
