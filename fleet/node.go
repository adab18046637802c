package fleet

import (
	"fmt"
	"regexp"
	"slices"

	"go.yaml.in/yaml/v3"

	"nixdeck/fleet/remote"
)

// Node is one host of the fleet, with its settings resolved.
type Node struct {
	// Name is the node's key under `nodes`; unique, used in selectors.
	Name string
	// Host is the DNS name, address or ~/.ssh/config alias to connect to.
	Host string
	// Attr is the attribute of the flake (or Nix file) that builds the
	// host's system; see AttrPath.
	Attr string
	// Tags group nodes for selectors (`@web`), in file order.
	Tags []string
	// Vars are the operator's own values for the node (`vars:`), for
	// {vars.NAME} in health check URLs: the node's own over the defaults',
	// name by name. Read-only once loaded.
	Vars map[string]string
	// Settings are node settings over defaults over built-in defaults.
	// User, Port, Identity and Jump stay empty when neither the node nor
	// defaults set them, so that ~/.ssh/config can fill them in.
	Settings
}

// DefaultAttr is the attribute a node builds when it sets no `attr`.
func DefaultAttr(name string) string {
	return "nixosConfigurations." + name + ".config.system.build.toplevel"
}

// AttrPath is the attribute that builds the node's system: Attr, or
// nixosConfigurations.<name>.config.system.build.toplevel when unset.
func (n *Node) AttrPath() string {
	if n.Attr != "" {
		return n.Attr
	}
	return DefaultAttr(n.Name)
}

// HasTag reports whether the node carries tag.
func (n *Node) HasTag(tag string) bool { return slices.Contains(n.Tags, tag) }

// Target says how to reach the node over SSH. Zero fields are the ones the
// fleet file left to ~/.ssh/config and the SSH defaults.
func (n *Node) Target() remote.Target {
	return remote.Target{
		Name:       n.Name,
		Host:       n.Host,
		Port:       n.Port,
		User:       n.User,
		Identity:   n.Identity,
		KnownHosts: n.KnownHosts,
		Jump:       n.Jump,
		Sudo:       n.Sudo,
	}
}

// nameRE is what node names and tags may look like: selectors give `,`,
// `!`, `@` and glob characters their own meaning.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

// rawNode is a node before defaults are applied.
type rawNode struct {
	node     *Node
	settings rawSettings
}

// nodes decodes the `nodes` mapping, in file order.
func (d *decoder) nodes(m *yaml.Node, path string) []rawNode {
	var out []rawNode
	ps := d.named(m, path, "node", func(name string, v, keyNode *yaml.Node, key string) {
		// An invalid node is still a node: selectors naming it should not
		// add errors of their own.
		out = append(out, d.node(name, v, keyNode, key))
	})
	if ps == 0 && m.Kind == yaml.MappingNode {
		d.errorf(m, path, "the fleet needs at least one node")
	}
	return out
}

// named walks a mapping of names to entries (`nodes`, `builders`): it
// reports a value that is no mapping, duplicate names and names that break
// the node name rule (what says which: "node", "builder"), and hands each
// well-named entry, aliases followed, to each. It returns how many entries
// the mapping has.
func (d *decoder) named(m *yaml.Node, path, what string, each func(name string, v, keyNode *yaml.Node, key string)) int {
	if m.Kind != yaml.MappingNode {
		d.errorf(m, path, "expected a mapping of %s names to %ss, got %s", what, what, describe(m))
		return 0
	}
	ps := d.pairs(m, path, what+" name")
	for _, p := range ps {
		name := p.key.Value
		key := joinKey(path, name)
		if !nameRE.MatchString(name) {
			d.errorf(p.key, key, "%q is not a valid %s name (letters, digits, '.', '_', '-')", name, what)
			continue
		}
		each(name, deref(p.val), p.key, key)
	}
	return len(ps)
}

// node decodes one node; keyNode positions errors about the node as a whole.
func (d *decoder) node(name string, v, keyNode *yaml.Node, key string) rawNode {
	rn := rawNode{node: &Node{Name: name}}
	if isNull(v) {
		d.errorf(keyNode, key, "missing host")
		return rn
	}
	fs := d.settingFields(&rn.settings)
	hostSet := false
	fs["host"] = func(v *yaml.Node, key string) {
		hostSet = true
		rn.node.Host, _ = d.host(v, key)
	}
	fs["attr"] = func(v *yaml.Node, key string) {
		if s, ok := d.str(v, key); ok && s == "" {
			d.errorf(v, key, "must not be empty (leave it out for %s)", DefaultAttr(name))
		} else {
			rn.node.Attr = s
		}
	}
	fs["tags"] = func(v *yaml.Node, key string) { rn.node.Tags = d.tags(v, key) }
	if !d.fields(v, key, fs) {
		return rn
	}
	if !hostSet {
		d.errorf(keyNode, key, "missing host")
	}
	if rn.node.Attr == "" {
		rn.node.Attr = DefaultAttr(name)
	}
	return rn
}

// tags decodes a node's tag list, dropping repeats.
func (d *decoder) tags(v *yaml.Node, key string) []string {
	ts, nodes, _ := d.strList(v, key, false)
	var out []string
	for i, t := range ts {
		switch {
		case nodes[i].Kind != yaml.ScalarNode:
		case !nameRE.MatchString(t):
			d.errorf(nodes[i], fmt.Sprintf("%s[%d]", key, i), "%q is not a valid tag (letters, digits, '.', '_', '-')", t)
		case !slices.Contains(out, t):
			out = append(out, t)
		}
	}
	return out
}
