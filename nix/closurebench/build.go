package closurebench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Expr renders s as a Nix expression whose value is the top-level derivation.
// Package contents embed the paths of their dependencies, so Nix records
// them as references; the top level links sw, kernel and initrd and lists
// every package in a file (passAsFile: the list is too long for argv).
func (s Spec) Expr() string {
	var b strings.Builder
	b.WriteString("let\n")
	var sel, all []string
	for i, p := range s.Packages {
		var deps []string
		for _, d := range p.Deps {
			deps = append(deps, fmt.Sprintf("${p%d}", d))
		}
		fmt.Fprintf(&b, "  p%d = builtins.toFile %s %s;\n", i, strconv.Quote(p.Name),
			strconv.Quote(p.Name+" "+strings.Join(deps, " ")))
		all = append(all, fmt.Sprintf("${p%d}", i))
		if p.Selected {
			sel = append(sel, fmt.Sprintf("${p%d}", i))
		}
	}
	fmt.Fprintf(&b, `  sw = derivation { name = "system-path"; system = builtins.currentSystem; builder = "/bin/sh";
    passAsFile = [ "refs" ]; refs = %s;
    args = [ "-c" "/bin/mkdir -p $out/bin && /bin/cp $refsPath $out/manifest" ]; };
in derivation { name = %s; system = builtins.currentSystem; builder = "/bin/sh";
  inherit sw; kernel = p0; initrd = p1;
  passAsFile = [ "refs" ]; refs = %s;
  args = [ "-c" "/bin/mkdir -p $out/etc && /bin/ln -s $sw $out/sw && /bin/ln -s $kernel $out/kernel && /bin/ln -s $initrd $out/initrd && /bin/cp $refsPath $out/etc/packages" ];
}
`, strconv.Quote(strings.Join(sel, " ")), strconv.Quote(s.Name), strconv.Quote(strings.Join(all, " ")))
	return b.String()
}

// Build writes s's expression into dir and builds it with nix-build
// (substituters off), leaving a gc root dir/<s.Name>; it returns the
// top level's store path.
func Build(ctx context.Context, dir string, s Spec) (string, error) {
	file := filepath.Join(dir, s.Name+".nix")
	if err := os.WriteFile(file, []byte(s.Expr()), 0o644); err != nil {
		return "", err
	}
	link := filepath.Join(dir, s.Name)
	cmd := exec.CommandContext(ctx, "nix-build", "--option", "substituters", "", "--out-link", link, file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("nix-build %s: %w: %s", file, err, lastLine(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}
