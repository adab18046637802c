package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"nixdeck/internal/tail"
)

// Derivation is what evaluating one node's system attribute yields.
type Derivation struct {
	// DrvPath is the store derivation (/nix/store/…-nixos-system-….drv).
	DrvPath string `json:"d"`
	// OutPath is the system's output path as the evaluator predicts it.
	OutPath string `json:"o"`
}

// NixCmd is the argv prefix for the `nix` command: the experimental
// features it needs are switched on per call, so nixdeck works on a stock
// Nix 2.8 configuration as well as on current Nix.
func NixCmd(args ...string) []string {
	return append([]string{"nix", "--extra-experimental-features", "nix-command flakes"}, args...)
}

// Instantiate evaluates the attributes of req and returns each node's
// derivation: for a flake in one `nix eval` (Nix 2.8's `nix build --json`
// returns its results sorted, not in the order of the installables, so the
// derivation paths are what maps build results back to nodes), for a
// classic file with one `nix-instantiate` (OutPath is then left empty).
func Instantiate(ctx context.Context, r Runner, req BuildRequest) (map[string]Derivation, error) {
	nodes, attrs := req.order()
	if req.File != "" {
		return instantiateClassic(ctx, r, req, nodes, attrs)
	}
	paths := make([][]string, len(attrs))
	for i, a := range attrs {
		paths[i] = splitAttrPath(a)
	}
	prefix := commonPrefix(paths)
	var out, errb bytes.Buffer
	fn := "d: { d = d.drvPath; o = d.outPath; }"
	var argv []string
	if len(prefix) == 0 {
		// Attributes in different top-level outputs: nothing to apply a
		// function to, so evaluate them one at a time.
		drvs := make([]Derivation, len(attrs))
		for i, a := range attrs {
			out.Reset()
			argv = NixCmd("eval", "--json", installable(req.Flake, a), "--apply", fn)
			if err := r.Run(ctx, Cmd{Argv: argv, Stdout: &out, Stderr: &errb, Dir: req.WorkDir}); err != nil {
				return nil, evalError(nodesWithAttr(req, a), err, errb.String())
			}
			if err := json.Unmarshal(out.Bytes(), &drvs[i]); err != nil {
				return nil, fmt.Errorf("evaluate %s: parse %q: %w", a, out.String(), err)
			}
		}
		return byNode(req, nodes, attrs, drvs), nil
	}
	var elems []string
	for _, p := range paths {
		elems = append(elems, "(f x"+nixAttrSel(p[len(prefix):])+")")
	}
	apply := "x: let f = " + fn + "; in [ " + strings.Join(elems, " ") + " ]"
	argv = NixCmd("eval", "--json", installable(req.Flake, strings.Join(prefix, ".")), "--apply", apply)
	if err := r.Run(ctx, Cmd{Argv: argv, Stdout: &out, Stderr: &errb, Dir: req.WorkDir}); err != nil {
		return nil, evalError(nodes, err, errb.String())
	}
	var drvs []Derivation
	if err := json.Unmarshal(out.Bytes(), &drvs); err != nil || len(drvs) != len(attrs) {
		return nil, fmt.Errorf("evaluate %s: unexpected output %q", strings.Join(nodes, ", "), out.String())
	}
	return byNode(req, nodes, attrs, drvs), nil
}

// instantiateClassic runs nix-instantiate, which prints one derivation per
// -A in order.
func instantiateClassic(ctx context.Context, r Runner, req BuildRequest, nodes, attrs []string) (map[string]Derivation, error) {
	argv := []string{"nix-instantiate", req.File}
	for _, a := range attrs {
		argv = append(argv, "-A", a)
	}
	var out, errb bytes.Buffer
	if err := r.Run(ctx, Cmd{Argv: argv, Stdout: &out, Stderr: &errb, Dir: req.WorkDir}); err != nil {
		return nil, evalError(nodes, err, errb.String())
	}
	lines := strings.Fields(out.String())
	if len(lines) != len(attrs) {
		return nil, fmt.Errorf("evaluate %s: nix-instantiate printed %d derivations for %d attributes", strings.Join(nodes, ", "), len(lines), len(attrs))
	}
	drvs := make([]Derivation, len(attrs))
	for i, l := range lines {
		drvs[i].DrvPath = l
	}
	return byNode(req, nodes, attrs, drvs), nil
}

// byNode spreads per-attribute results over the nodes that share them.
func byNode(req BuildRequest, nodes, attrs []string, drvs []Derivation) map[string]Derivation {
	idx := map[string]int{}
	for i, a := range attrs {
		idx[a] = i
	}
	m := make(map[string]Derivation, len(nodes))
	for _, n := range nodes {
		m[n] = drvs[idx[req.Attrs[n]]]
	}
	return m
}

func nodesWithAttr(req BuildRequest, attr string) []string {
	nodes, _ := req.order()
	var out []string
	for _, n := range nodes {
		if req.Attrs[n] == attr {
			out = append(out, n)
		}
	}
	return out
}

func evalError(nodes []string, err error, stderr string) error {
	return &BuildError{Nodes: nodes, Phase: "evaluate", Tail: tail.LastLines(stderr, 15), Err: err}
}

// installable joins a flake reference and an attribute path.
func installable(flake, attr string) string { return flake + "#" + attr }

// splitAttrPath splits a flake attribute path at dots outside double quotes,
// keeping quoted parts as written (`a."b.c"` → `a`, `"b.c"`).
func splitAttrPath(p string) []string {
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '"':
			quoted = !quoted
		case '.':
			if !quoted {
				parts = append(parts, p[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, p[start:])
}

// commonPrefix returns the attribute path components all paths share,
// leaving at least one component of each path to select.
func commonPrefix(paths [][]string) []string {
	if len(paths) == 0 {
		return nil
	}
	n := len(paths[0]) - 1
	for _, p := range paths[1:] {
		n = min(n, len(p)-1)
		for i := 0; i < n; i++ {
			if p[i] != paths[0][i] {
				n = i
				break
			}
		}
	}
	return paths[0][:max(n, 0)]
}

// nixAttrSel renders attribute path components as a Nix selection
// (`."web1"."config"`), each name a Nix string so any name is safe.
func nixAttrSel(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		p = strings.TrimSuffix(strings.TrimPrefix(p, `"`), `"`)
		b.WriteString(".")
		b.WriteString(nixString(p))
	}
	return b.String()
}

// nixString quotes s as a Nix string literal.
func nixString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
