package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"nixdeck/fleet/remote"
)

// DefaultFile is the fleet file looked for in the working directory.
const DefaultFile = "fleet.yaml"

// EnvFleet names the environment variable consulted when there is no -f
// flag and no ./fleet.yaml.
const EnvFleet = "NIXDECK_FLEET"

// ErrNoFleetFile is returned by Locate when no fleet file was named or found.
var ErrNoFleetFile = errors.New("no fleet file: pass -f FILE, create ./" + DefaultFile + " or set $" + EnvFleet)

// Locate picks the fleet file: the -f value when given, else ./fleet.yaml
// when it exists, else $NIXDECK_FLEET. It does not check that a named file
// exists; Load reports that.
func Locate(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if _, err := os.Stat(DefaultFile); err == nil {
		return DefaultFile, nil
	}
	if env := os.Getenv(EnvFleet); env != "" {
		return env, nil
	}
	return "", ErrNoFleetFile
}

// Load reads, validates and resolves the fleet file at path. When the file
// is invalid the error is a FileErrors listing every problem found, sorted
// by position; when it cannot be read the error wraps the os error.
func Load(path string) (*Fleet, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fleet file: %w", err)
	}
	defer fh.Close()
	// One byte past the cap tells a file at the cap from a larger one; a
	// pipe (-f <(...)) works as well as a file.
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("fleet file: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("fleet file %s: %w", path, err)
	}
	return Parse(path, abs, data)
}

// Parse validates and resolves fleet file content. name is used in error
// messages; abs is the file's absolute path, whose directory relative paths
// resolve against.
func Parse(name, abs string, data []byte) (*Fleet, error) {
	d := &decoder{file: name, dir: filepath.Dir(abs)}
	d.home, d.homeErr = remote.HomeDir()
	f := &Fleet{Path: abs, Dir: d.dir}
	if errs := checkSize(name, int64(len(data))); errs != nil {
		return nil, errs
	}
	if errs := checkEncoding(name, data); errs != nil {
		return nil, errs
	}
	root, err := document(data)
	if err != nil {
		return nil, FileErrors{syntaxError(name, err)}
	}
	if root == nil {
		return nil, FileErrors{{File: name, Line: 1, Col: 1, Msg: "the file is empty; it needs flake (or file) and nodes"}}
	}
	if e := aliasExpansion(name, root, MaxAliasValues); e != nil {
		return nil, FileErrors{e}
	}
	d.fleet(root, f)
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	return f, nil
}

// document decodes the single YAML document of a fleet file; nil when the
// file holds no document at all.
func document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("yaml: line %d: a fleet file holds one YAML document; found another", extra.Line)
	} else if err != io.EOF {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// fleet decodes the top level. Nodes are resolved after the whole file is
// read because `defaults` may come after `nodes`.
func (d *decoder) fleet(root *yaml.Node, f *Fleet) {
	var flake, file *yaml.Node
	var defaults rawSettings
	var nodes []rawNode
	var builders []rawBuilder
	nodesSet := false
	var canary []selectorAt
	f.Deploy = DefaultDeploy()
	ok := d.fields(root, "", map[string]field{
		"flake":    func(v *yaml.Node, key string) { flake = v },
		"file":     func(v *yaml.Node, key string) { file = v },
		"defaults": func(v *yaml.Node, key string) { d.fields(v, key, d.settingFields(&defaults)) },
		"deploy":   func(v *yaml.Node, key string) { canary = d.deploy(v, key, &f.Deploy) },
		"nodes":    func(v *yaml.Node, key string) { nodes, nodesSet = d.nodes(v, key), true },
		"builders": func(v *yaml.Node, key string) { builders = d.builders(v, key) },
		"cache":    func(v *yaml.Node, key string) { f.Cache = d.cache(v, key) },
	})
	if !ok {
		return
	}
	d.source(root, flake, file, f)
	f.Defaults = defaults.over(Settings{Sudo: SudoAuto, BuildOn: BuildLocal})
	f.byName = map[string]*Node{}
	for _, rn := range nodes {
		rn.node.Settings = rn.settings.over(f.Defaults)
		rn.node.Vars = mergeVars(defaults.vars, rn.settings.vars)
		f.Nodes = append(f.Nodes, rn.node)
		f.byName[rn.node.Name] = rn.node
	}
	for _, rb := range builders {
		b := rb.builder
		b.Settings = rb.settings.over(f.Defaults)
		b.BuildOn, b.SubstituteOnDestination = "", false
		b.node = b.asNode()
		f.Builders = append(f.Builders, b)
	}
	d.checkBuildOn(defaults, f)
	for _, rn := range nodes {
		d.checkBuildOn(rn.settings, f)
	}
	if !nodesSet {
		d.errorf(keyNode(root, "nodes"), "nodes", "missing: the fleet needs at least one node")
	}
	d.checkVars(d.varUses, f.Nodes)
	for i, at := range canary {
		if _, err := f.Select(f.Deploy.Canary[i]); err != nil {
			d.errorf(at.v, at.key, "%v", err)
		}
	}
}

// source checks that exactly one of flake and file is set and resolves it.
func (d *decoder) source(root, flake, file *yaml.Node, f *Fleet) {
	switch {
	case flake == nil && file == nil:
		d.errorf(root, "flake", "missing: set flake (a directory with flake.nix) or file (a Nix file)")
	case flake != nil && file != nil:
		d.errorf(file, "file", "flake and file exclude each other; set only one")
	case flake != nil:
		s, ok := d.str(flake, "flake")
		switch {
		case !ok:
		case s == "":
			d.errorf(flake, "flake", "must not be empty")
		case isFlakeRef(s):
			f.Flake = s
		default:
			f.Flake, _ = d.resolve(flake, "flake", s)
		}
	default:
		f.File, _ = d.path(file, "file")
	}
}

// isFlakeRef tells flake references ("github:o/r", "git+https://...") from
// local paths: a scheme before the first slash.
func isFlakeRef(s string) bool {
	i := strings.Index(s, ":")
	return i > 0 && !strings.Contains(s[:i], "/")
}

// keyNode is key's node in mapping m (for the position of errors about
// a key whose value is null); m itself when the key is absent.
func keyNode(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return m
}
