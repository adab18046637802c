package nixtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/nix"
)

// SizedClosure builds a system-like path whose closure holds n+1 paths
// of incompressible content, about total bytes together: a few large
// paths (a quarter of the bytes in the first path, as a kernel or glibc
// would hold, then halving) and many small ones, as in a real system.
// Every call makes new paths. The top level references all of them.
func SizedClosure(t testing.TB, n int, total int64) string {
	t.Helper()
	sizes := closureSizes(n, total)
	var leaves []string
	for i, s := range sizes {
		leaves = append(leaves, fmt.Sprintf(`(blob "%d" %d)`, i, s))
	}
	dir := t.TempDir()
	expr := fmt.Sprintf(`let
  nonce = "%s";
  blob = i: size: derivation {
    name = "blob-${i}-1.0"; system = "x86_64-linux"; builder = "/bin/sh"; inherit nonce;
    args = [ "-c" "/usr/bin/head -c ${toString size} /dev/urandom > $out" ];
  };
in derivation {
  name = "nixos-system-sized-24.05"; system = "x86_64-linux"; builder = "/bin/sh";
  refs = toString [ %s ]; passAsFile = [ "refs" ];
  args = [ "-c" "read -r l < $refsPath; echo \"$l\" > $out" ];
}`, time.Now().Format(time.RFC3339Nano), strings.Join(leaves, " "))
	file := filepath.Join(dir, "sized.nix")
	if err := os.WriteFile(file, []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := nix.Build(ctx, nix.LocalRunner{}, nix.BuildRequest{File: file, Attrs: map[string]string{"sized": ""}, RootDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return out["sized"]
}

// closureSizes splits total over n paths: a quarter to the first, an
// eighth to the second, and so on for the large ones, the rest evenly.
func closureSizes(n int, total int64) []int64 {
	sizes := make([]int64, n)
	rest := total
	big := min(n/4, 6)
	for i := 0; i < big; i++ {
		sizes[i] = total >> (i + 2)
		rest -= sizes[i]
	}
	for i := big; i < n; i++ {
		sizes[i] = max(rest/int64(n-big), 1)
	}
	return sizes
}
