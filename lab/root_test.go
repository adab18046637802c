package lab

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeMarker writes a root marker into dir.
func writeMarker(t *testing.T, dir string, r Root) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rootMarkerName), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRoot(t *testing.T) {
	base := t.TempDir()
	good := Root{Recipe: rootRecipe, Suite: rootSuite, Nix: "2.26.3", OpenSSH: "10.0p2"}
	old := good
	old.Recipe = rootRecipe - 1
	half := filepath.Join(base, "half")
	if err := os.Mkdir(half, 0o755); err != nil {
		t.Fatal(err)
	}
	writeMarker(t, filepath.Join(base, "good"), good)
	writeMarker(t, filepath.Join(base, "old"), old)
	writeMarker(t, filepath.Join(base, "noversion"), Root{Recipe: rootRecipe, Suite: rootSuite})
	if err := os.MkdirAll(filepath.Join(base, "garbage"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "garbage", rootMarkerName), []byte("{\"recipe\":"), 0o644); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{
		"good": "", "none": "no current-Nix root", "half": "half-built", "old": "another recipe",
		"noversion": "another recipe", "garbage": "unexpected end",
	} {
		r, err := OpenRoot(filepath.Join(base, dir))
		switch {
		case want == "" && (err != nil || r.Nix != "2.26.3" || r.OpenSSH != "10.0p2" || r.Dir != filepath.Join(base, dir)):
			t.Errorf("%s: %+v, %v", dir, r, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want an error saying %q", dir, err, want)
		}
	}
}

// TestEnsureRootUsesCache: a complete root is returned as it is, without
// building (there is no debootstrap on PATH to build with).
func TestEnsureRootUsesCache(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	want := Root{Recipe: rootRecipe, Suite: rootSuite, Nix: "2.26.3", OpenSSH: "10.0p2"}
	writeMarker(t, filepath.Join(RootsDir(), rootName()), want)
	r, err := EnsureRoot(context.Background(), RootOptions{})
	if err != nil || r.Nix != want.Nix || r.Dir != filepath.Join(RootsDir(), rootName()) {
		t.Fatalf("EnsureRoot = %+v, %v", r, err)
	}
	// A rebuild that fails keeps the root it was to replace.
	if _, err := EnsureRoot(context.Background(), RootOptions{Rebuild: true}); err == nil || !strings.Contains(err.Error(), "debootstrap is missing") {
		t.Errorf("rebuild without debootstrap: %v", err)
	}
	if r, err := CachedRoot(); err != nil || r.Nix != want.Nix {
		t.Errorf("after a failed rebuild: %+v, %v", r, err)
	}
}

func TestRemoveLeftovers(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "trixie.1")
	keep := filepath.Join(dir, "trixie.2")
	for _, d := range []string{final, keep, filepath.Join(dir, ".build-trixie.1-123", "usr"), filepath.Join(dir, ".build-trixie.2-9")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".build-trixie.1-123.log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := removeLeftovers(final); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	// The root itself is replaced only once a build has succeeded.
	if strings.Join(left, " ") != ".build-trixie.2-9 trixie.1 trixie.2" {
		t.Errorf("left %v, want the root and another recipe's", left)
	}
}

// TestVersions reads versions from the output of both Debian releases'
// commands, as recorded.
func TestVersions(t *testing.T) {
	for out, want := range map[string]string{
		"OpenSSH_9.2, OpenSSL 3.0.19 27 Jan 2026\n":                        "9.2",
		"OpenSSH_9.2p1 Debian-2+deb12u7, OpenSSL 3.0.19 27 Jan 2026\n":     "9.2p1",
		"OpenSSH_10.0p2 Debian-7+deb13u4, OpenSSL 3.5.9 29 Sep 2026\n":     "10.0p2",
		"unknown option -- V\nOpenSSH_10.0p2, OpenSSL 3.5.9 29 Sep 2026\n": "",
		"sshd: command not found\n":                                        "",
		"OpenSSH_\n":                                                       "",
		"OpenSSH_x1, OpenSSL\n":                                            "",
	} {
		if v, err := sshdVersion(out); v != want || (err == nil) != (want != "") {
			t.Errorf("%q: %q, %v; want %q", out, v, err, want)
		}
	}
	for out, want := range map[string]string{"nix (Nix) 2.8.0\n": "2.8.0", "nix (Nix) 2.26.3\n": "2.26.3"} {
		if v, err := nixVersion(out); v != want || err != nil {
			t.Errorf("%q: %q, %v; want %q", out, v, err, want)
		}
	}
}
