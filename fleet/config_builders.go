package fleet

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Builder is one host of the fleet file's `builders` section: a machine
// that builds systems for `build_on: builder:NAME` nodes through Nix's
// remote-build machinery. It is not a node: no selector picks it and
// nothing is deployed to it.
type Builder struct {
	// Name is the builder's key under `builders`; it follows the node name rule.
	Name string
	// Host is the DNS name, address or ~/.ssh/config alias to connect to.
	Host string
	// Settings are the connection keys (user, port, identity, known_hosts,
	// jump, sudo) over `defaults`, like a node's; BuildOn and
	// SubstituteOnDestination stay zero: they mean nothing for a builder.
	Settings
	// Systems are the Nix system types the builder builds ("x86_64-linux").
	Systems []string
	// MaxJobs is how many builds it runs at once (>= 1).
	MaxJobs int

	node *Node // what Node returns, made once at load time
}

// BuildBuilderPrefix starts a Settings.BuildOn that names a builder:
// "builder:big" builds on the builder named big.
const BuildBuilderPrefix = "builder:"

// DefaultBuilderSystems are the systems of a builder that lists none.
var DefaultBuilderSystems = []string{"x86_64-linux"}

// BuilderName is the builder BuildOn names ("big" for "builder:big"), or
// "" when the node builds locally or on the target.
func (s Settings) BuilderName() string {
	name, _ := strings.CutPrefix(s.BuildOn, BuildBuilderPrefix)
	if name == s.BuildOn {
		return ""
	}
	return name
}

// Node is the builder as a *Node named "builder:"+Name, so that the SSH
// pool and anything else that dials nodes can dial it too. The prefix's
// colon keeps it apart from every node: node names cannot hold one. A
// loaded builder returns the same *Node on every call; a Builder made by
// hand (in tests) gets a new one each time.
func (b *Builder) Node() *Node {
	if b.node != nil {
		return b.node
	}
	return b.asNode()
}

// asNode makes the *Node that Node returns.
func (b *Builder) asNode() *Node {
	return &Node{Name: BuildBuilderPrefix + b.Name, Host: b.Host, Settings: b.Settings}
}

// Builder looks a builder up by name; nil when there is none.
func (f *Fleet) Builder(name string) *Builder {
	for _, b := range f.Builders {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// maxJobs bounds builders.NAME.max_jobs: beyond any machine, far from
// overflowing anything.
const maxJobs = 1 << 20

// systemRE is a Nix system type, "cpu-os" ("x86_64-linux",
// "aarch64-darwin"); nothing that would split Nix's --builders fields
// (spaces, commas) gets through.
var systemRE = regexp.MustCompile(`^[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)+$`)

// rawBuilder is a builder before defaults are applied.
type rawBuilder struct {
	builder  *Builder
	settings rawSettings
}

// builders decodes the `builders` mapping, in file order.
func (d *decoder) builders(m *yaml.Node, path string) []rawBuilder {
	var out []rawBuilder
	d.named(m, path, "builder", func(name string, v, keyNode *yaml.Node, key string) {
		out = append(out, d.builder(name, v, keyNode, key))
	})
	return out
}

// builder decodes one builder: host, the connection keys of a node, and
// systems and max_jobs.
func (d *decoder) builder(name string, v, keyNode *yaml.Node, key string) rawBuilder {
	rb := rawBuilder{builder: &Builder{Name: name, Systems: DefaultBuilderSystems, MaxJobs: 1}}
	if isNull(v) {
		d.errorf(keyNode, key, "missing host")
		return rb
	}
	fs := d.settingFields(&rb.settings)
	// What only a deployed node has; a builder naming it is a mistake.
	delete(fs, "build_on")
	delete(fs, "substitute_on_destination")
	delete(fs, "vars")
	hostSet := false
	fs["host"] = func(v *yaml.Node, key string) {
		hostSet = true
		rb.builder.Host, _ = d.host(v, key)
	}
	fs["systems"] = func(v *yaml.Node, key string) { rb.builder.Systems = d.systems(v, key) }
	fs["max_jobs"] = func(v *yaml.Node, key string) {
		assign(&rb.builder.MaxJobs)(d.integer(v, key, 1, maxJobs, fmt.Sprintf("a job count (1-%d)", maxJobs)))
	}
	if d.fields(v, key, fs) && !hostSet {
		d.errorf(keyNode, key, "missing host")
	}
	return rb
}

// systems decodes a builder's system types: a list (or one string), not
// empty, without repeats. Every element is checked, so that all bad ones
// are reported at once.
func (d *decoder) systems(v *yaml.Node, key string) []string {
	elems, keys := []*yaml.Node{v}, []string{key}
	switch v.Kind {
	case yaml.ScalarNode:
	case yaml.SequenceNode:
		elems, keys = nil, nil
		for i, e := range v.Content {
			elems, keys = append(elems, deref(e)), append(keys, fmt.Sprintf("%s[%d]", key, i))
		}
	default:
		d.errorf(v, key, "expected a list, got %s", describe(v))
		return DefaultBuilderSystems
	}
	if len(elems) == 0 {
		d.errorf(v, key, "empty: list the systems the builder builds (e.g. [x86_64-linux])")
		return DefaultBuilderSystems
	}
	var out []string
	for i, e := range elems {
		s, ok := d.str(e, keys[i])
		switch {
		case !ok:
		case !systemRE.MatchString(s):
			d.errorf(e, keys[i], "%q is not a Nix system type (e.g. x86_64-linux, aarch64-linux)", s)
		case slices.Contains(out, s):
			d.errorf(e, keys[i], "%q is listed twice", s)
		default:
			out = append(out, s)
		}
	}
	return out
}

// buildOn decodes build_on: local, target or builder:NAME. Whether NAME
// is a builder is checked once the whole file is read (checkBuildOn).
func (d *decoder) buildOn(v *yaml.Node, key string) (string, bool) {
	s, ok := d.str(v, key)
	if !ok {
		return "", false
	}
	if name, isBuilder := strings.CutPrefix(s, BuildBuilderPrefix); isBuilder {
		if !nameRE.MatchString(name) {
			d.errorf(v, key, "%q: %q is not a valid builder name (letters, digits, '.', '_', '-')", s, name)
			return "", false
		}
		return s, true
	}
	if s != BuildLocal && s != BuildTarget {
		d.errorf(v, key, "%q is not one of %s, %s or %sNAME", s, BuildLocal, BuildTarget, BuildBuilderPrefix)
		return "", false
	}
	return s, true
}

// checkBuildOn reports a build_on naming a builder the file does not
// have, at the value that names it. A default naming one is reported once,
// not for every node that inherits it.
func (d *decoder) checkBuildOn(r rawSettings, f *Fleet) {
	if r.buildOn == nil || r.buildOnAt == nil {
		return
	}
	name := Settings{BuildOn: *r.buildOn}.BuilderName()
	if name == "" || f.Builder(name) != nil {
		return
	}
	var known []string
	for _, b := range f.Builders {
		known = append(known, b.Name)
	}
	switch s := suggest(name, known); {
	case len(known) == 0:
		d.errorf(r.buildOnAt, r.buildOnKey, "no builder %q: the file has no builders section", name)
	case s != "":
		d.errorf(r.buildOnAt, r.buildOnKey, "no builder %q (did you mean %s%s?)", name, BuildBuilderPrefix, s)
	case len(known) > 5:
		d.errorf(r.buildOnAt, r.buildOnKey, "no builder %q (builders: %s and %d more)", name, strings.Join(known[:5], ", "), len(known)-5)
	default:
		d.errorf(r.buildOnAt, r.buildOnKey, "no builder %q (builders: %s)", name, joinWords(known))
	}
}
