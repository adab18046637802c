package fleet

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// field decodes the value of one known key; key is its full dotted path.
type field func(v *yaml.Node, key string)

// pair is one key and value of a mapping, after merge keys are applied.
type pair struct{ key, val *yaml.Node }

// fields walks mapping m: it reports unknown and duplicate keys, skips keys
// whose value is null (not set) and hands every other value, aliases
// followed and positioned at its key, to its field. It returns false when
// m is not a mapping.
func (d *decoder) fields(m *yaml.Node, path string, fs map[string]field) bool {
	m = deref(m)
	if m.Kind != yaml.MappingNode {
		d.errorf(m, path, "expected a mapping, got %s", describe(m))
		return false
	}
	for _, p := range d.pairs(m, path, "key") {
		key := joinKey(path, p.key.Value)
		f, known := fs[p.key.Value]
		if !known && path == "" && strings.HasPrefix(p.key.Value, "x-") {
			continue // top-level x-* keys hold YAML anchors, as in compose files
		}
		if !known {
			names := make([]string, 0, len(fs))
			for k := range fs {
				names = append(names, k)
			}
			sort.Strings(names)
			if s := suggest(p.key.Value, names); s != "" {
				d.errorf(p.key, key, "unknown key (did you mean %s?)", s)
			} else {
				d.errorf(p.key, key, "unknown key (known: %s)", joinWords(names))
			}
			continue
		}
		if v := deref(p.val); !isNull(v) {
			// Errors about a value point at its key, where an operator
			// looks first (and where an alias is used, not defined).
			at := *v
			at.Line, at.Column = p.key.Line, p.key.Column
			f(&at, key)
		}
	}
	return true
}

// pairs lists the entries of mapping m in file order. It applies YAML merge
// keys (`<<: *anchor`, explicit keys win) and reports keys that are not
// scalars and keys given twice; what names a key in that message ("key",
// "node name"). Of a duplicate only the first entry is kept. A mapping that
// merges itself, directly or not, is an error rather than endless recursion.
func (d *decoder) pairs(m *yaml.Node, path, what string) []pair {
	if d.expanding == nil {
		d.expanding = map[*yaml.Node]bool{}
	}
	d.expanding[m] = true
	defer delete(d.expanding, m)
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "expected a %s, got %s", what, describe(k))
			continue
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			continue
		}
		if f, dup := first[k.Value]; dup {
			d.errorf(k, joinKey(path, k.Value), "duplicate %s (first at line %d)", what, f.Line)
			continue
		}
		first[k.Value] = k
	}
	var out []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			for _, p := range d.merged(k, v, path, what) {
				if first[p.key.Value] == nil && !seen[p.key.Value] {
					seen[p.key.Value] = true
					out = append(out, p)
				}
			}
			continue
		}
		if first[k.Value] == k {
			seen[k.Value] = true
			out = append(out, pair{k, v})
		}
	}
	return out
}

// merged lists the entries a merge key brings in: one mapping or a list of
// them, earlier mappings winning.
func (d *decoder) merged(k, v *yaml.Node, path, what string) []pair {
	v = deref(v)
	srcs := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		srcs = v.Content
	}
	var out []pair
	for _, s := range srcs {
		s = deref(s)
		if s.Kind != yaml.MappingNode {
			d.errorf(s, joinKey(path, "<<"), "a merge key needs a mapping, got %s", describe(s))
			continue
		}
		if d.expanding[s] {
			d.errorf(k, joinKey(path, "<<"), "a merge key brings in the mapping it is part of")
			continue
		}
		out = append(out, d.pairs(s, path, what)...)
	}
	return out
}

// isNull reports a YAML null (`~`, `null` or nothing).
func isNull(v *yaml.Node) bool {
	return v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null"
}

// joinKey extends a dotted key path.
func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// joinWords lists words for a message: "a, b or c".
func joinWords(ws []string) string {
	switch len(ws) {
	case 0:
		return ""
	case 1:
		return ws[0]
	}
	return fmt.Sprintf("%s or %s", strings.Join(ws[:len(ws)-1], ", "), ws[len(ws)-1])
}
