package fleet

import (
	"fmt"
	"maps"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// varNameRE is what a `vars` name may look like, so that {vars.NAME}
// cannot be confused with other text of a URL.
var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxVarLen bounds a variable's value: it is pasted into URLs.
const maxVarLen = 1024

// vars decodes a `vars` mapping of names to strings (numbers and booleans
// are taken as written: `health_port: 8080` is "8080").
func (d *decoder) vars(v *yaml.Node, key string) map[string]string {
	if v.Kind != yaml.MappingNode {
		d.errorf(v, key, "expected a mapping of names to values, got %s", describe(v))
		return nil
	}
	out := map[string]string{}
	for _, p := range d.pairs(v, key, "variable name") {
		name, k := p.key.Value, joinKey(key, p.key.Value)
		if !varNameRE.MatchString(name) {
			d.errorf(p.key, k, "%q is not a valid variable name (letters, digits, '_')", name)
			continue
		}
		val := deref(p.val)
		if val.Kind != yaml.ScalarNode || isNull(val) {
			d.errorf(val, k, "expected a string or number, got %s", describe(val))
			continue
		}
		if len(val.Value) > maxVarLen {
			d.errorf(val, k, "longer than %d bytes", maxVarLen)
			continue
		}
		if s, ok := d.text(val, k, ""); ok {
			out[name] = s
		}
	}
	return out
}

// mergeVars is the node's variables over the defaults', name by name.
func mergeVars(defaults, node map[string]string) map[string]string {
	if len(defaults)+len(node) == 0 {
		return nil
	}
	out := maps.Clone(defaults)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, node)
	return out
}

// varUse is a {vars.NAME} written in a health check URL, kept until the
// nodes are known so that a node lacking NAME is an error at that URL.
type varUse struct {
	name string
	v    *yaml.Node
	key  string
}

// checkVars reports every node that lacks a variable a check uses.
func (d *decoder) checkVars(uses []varUse, nodes []*Node) {
	for _, u := range uses {
		var missing []string
		for _, n := range nodes {
			if _, ok := n.Vars[u.name]; !ok {
				missing = append(missing, n.Name)
			}
		}
		if len(missing) == 0 {
			continue
		}
		const show = 5
		names := strings.Join(missing[:min(len(missing), show)], ", ")
		if len(missing) > show {
			names += fmt.Sprintf(" and %d more", len(missing)-show)
		}
		d.errorf(u.v, u.key, "{vars.%s}: no vars.%s for node %s (set it in the node or in defaults)", u.name, u.name, names)
	}
}

// expandVars replaces {vars.NAME} in s with n's values.
func expandVars(s string, n *Node) string {
	if !strings.Contains(s, "{vars.") {
		return s
	}
	return placeholderRE.ReplaceAllStringFunc(s, func(p string) string {
		if name, ok := strings.CutPrefix(p[1:len(p)-1], "vars."); ok {
			if v, ok := n.Vars[name]; ok {
				return v
			}
		}
		return p
	})
}

// placeholderVar returns the variable a {vars.NAME} placeholder names, or
// why p is no placeholder a check URL may hold.
func placeholderVar(p string) (string, error) {
	name, ok := strings.CutPrefix(p[1:len(p)-1], "vars.")
	if !ok {
		return "", fmt.Errorf("unknown placeholder %s (use {host}, {name} or {vars.NAME})", p)
	}
	if !varNameRE.MatchString(name) {
		return "", fmt.Errorf("%s: %q is not a valid variable name", p, name)
	}
	return name, nil
}
