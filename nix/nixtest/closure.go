// Package nixtest holds helpers for tests that need real store paths.
package nixtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nixdeck/nix"
)

// LargeClosure builds a system-like path whose closure holds n+1 paths with
// NixOS-like names (builtins.toFile adds them at evaluation time, so
// nothing but the top is built); every call makes new paths. Real NixOS
// closures hold 1,500–5,000 paths; 3,000 names take ~180 KiB, more than
// one command line may hold.
func LargeClosure(t testing.TB, n int) string {
	t.Helper()
	dir := t.TempDir()
	expr := fmt.Sprintf(`let
  names = [ "glibc-2.39-52" "bash-5.2p32" "systemd-256.8" "openssl-3.0.15" "coreutils-9.5" ];
  pkg = i: builtins.toFile "${builtins.elemAt names (i - i / 5 * 5)}-${toString i}" "content %s ${toString i}";
in derivation {
  name = "nixos-system-big-24.05"; system = "x86_64-linux"; builder = "/bin/sh";
  paths = toString (builtins.genList pkg %d); passAsFile = [ "paths" ];
  args = [ "-c" "read -r l < $pathsPath; echo \"$l\" > $out" ];
}`, time.Now().Format(time.RFC3339Nano), n)
	file := filepath.Join(dir, "big.nix")
	if err := os.WriteFile(file, []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := nix.Build(context.Background(), nix.LocalRunner{}, nix.BuildRequest{File: file, Attrs: map[string]string{"big": ""}, RootDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return out["big"]
}
