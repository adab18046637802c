package nix_test

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// sourceFlake is a flake whose one output lists what Nix copied of it
// (the source's store path and its entries two levels down; the sandbox
// has no ls, the shell's globs do) and tracked.txt's content, so a test
// sees exactly what landed in the store.
const sourceFlake = `{
  outputs = { self }: {
    src = derivation { name = "flake-source-listing"; system = "x86_64-linux"; builder = "/bin/sh";
      tracked = builtins.readFile ./tracked.txt;
      args = [ "-c" "echo SELF=${self}; for f in ${self}/* ${self}/.* ${self}/*/* ${self}/*/.*; do echo \"$f\"; done; echo \"$tracked\"; echo > $out" ]; };
  };
}
`

// writeSourceFlake writes the flake, a tracked file and a 1 MiB file of
// random bytes (the "secret") into dir.
func writeSourceFlake(t *testing.T, dir string) {
	t.Helper()
	secret := make([]byte, 1<<20)
	rand.Read(secret)
	for name, data := range map[string][]byte{"flake.nix": []byte(sourceFlake), "tracked.txt": []byte("committed\n"), "secret.bin": secret} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// git runs git in dir with a fixed identity.
func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// buildSource builds the flake's src with nix.Build and returns what its
// builder printed: the source's store path, its entries, tracked.txt.
func buildSource(t *testing.T, ref string) (storePath, listing string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var lines []string
	req := nix.BuildRequest{Flake: ref, Attrs: map[string]string{"n": "src"}, Log: func(l string) { lines = append(lines, l) }}
	if _, err := nix.Build(ctx, nix.LocalRunner{}, req); err != nil {
		t.Fatalf("build %s: %v", ref, err)
	}
	log := strings.Join(lines, "\n")
	for _, l := range lines {
		// ${self} is the flake's directory: the source itself, or a
		// subdirectory of it for ?dir=.
		if _, self, ok := strings.Cut(l, "SELF="+nix.StoreDir+"/"); ok {
			name, _, _ := strings.Cut(self, "/")
			return nix.StoreDir + "/" + name, log
		}
	}
	t.Fatalf("build %s: the builder did not print its source:\n%s", ref, log)
	return "", ""
}

// TestFlakeRefCopiesTrackedFilesOnly builds with the installed Nix: a
// flake in a git checkout (in a subdirectory whose name needs escapes)
// copies only tracked files, its uncommitted changes included, and no
// .git; the same flake outside git is copied whole, secret and all.
func TestFlakeRefCopiesTrackedFilesOnly(t *testing.T) {
	nixtest.NeedNix(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("needs git: %v", err)
	}
	repo := t.TempDir()
	dir := filepath.Join(repo, "my fleet #1?")
	writeSourceFlake(t, dir)
	git(t, repo, "init", "-q")
	git(t, repo, "add", "my fleet #1?/flake.nix", "my fleet #1?/tracked.txt")
	git(t, repo, "commit", "-q", "-m", "fleet")
	// A fresh change each run, so that Nix builds (and logs) again.
	change := "uncommitted " + time.Now().Format(time.RFC3339Nano) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "tracked.txt"), []byte(change), 0o644); err != nil {
		t.Fatal(err)
	}
	ref, err := nix.FlakeRef(dir)
	if want := "git+file://" + repo + "?dir=my%20fleet%20%231%3F"; ref != want || err != nil {
		t.Fatalf("FlakeRef = %q, %v; want %q", ref, err, want)
	}
	src, log := buildSource(t, ref)
	if !strings.Contains(log, strings.TrimSpace(change)) || strings.Contains(log, "secret.bin") || strings.Contains(log, "/.git") {
		t.Errorf("git checkout: the build saw:\n%s\nwant tracked.txt's uncommitted content, no secret.bin, no .git", log)
	}
	for _, f := range []string{"my fleet #1?/secret.bin", ".git"} {
		if _, err := os.Lstat(filepath.Join(src, f)); err == nil {
			t.Errorf("%s is in the store: %s", f, src)
		}
	}
	if _, err := os.Lstat(filepath.Join(src, "my fleet #1?", "tracked.txt")); err != nil {
		t.Errorf("the tracked file is not in the store: %v", err)
	}

	plain := filepath.Join(t.TempDir(), "fleet")
	writeSourceFlake(t, plain)
	ref, err = nix.FlakeRef(plain)
	if ref != "path:"+plain || err != nil {
		t.Fatalf("FlakeRef(not a checkout) = %q, %v", ref, err)
	}
	src, log = buildSource(t, ref)
	if _, err := os.Lstat(filepath.Join(src, "secret.bin")); err != nil || !strings.Contains(log, "secret.bin") {
		t.Errorf("path: should copy the whole directory (this is what git+file avoids): %v\n%s", err, log)
	}
}

// TestFlakeRefEscapesWithInstalledNix: a directory whose path needs
// %-escapes either builds (Nix 2.19 and later decode them) or is refused
// by FlakeRef because the installed Nix cannot use the escaped reference,
// which the test confirms by trying it.
func TestFlakeRefEscapesWithInstalledNix(t *testing.T) {
	nixtest.NeedNix(t)
	dir := filepath.Join(t.TempDir(), "my fleet")
	writeSourceFlake(t, dir)
	ref, err := nix.FlakeRef(dir)
	if err == nil {
		if want := "path:" + strings.ReplaceAll(dir, " ", "%20"); ref != want {
			t.Fatalf("FlakeRef = %q, want %q", ref, want)
		}
		if _, log := buildSource(t, ref); !strings.Contains(log, "secret.bin") {
			t.Errorf("build of %s:\n%s", ref, log)
		}
		return
	}
	if !strings.Contains(err.Error(), "' ', which a flake URL must %-escape; Nix ") {
		t.Fatalf("FlakeRef: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	escaped := "path:" + strings.ReplaceAll(dir, " ", "%20")
	if _, err := nix.Build(ctx, nix.LocalRunner{}, nix.BuildRequest{Flake: escaped, Attrs: map[string]string{"n": "src"}}); err == nil {
		t.Errorf("FlakeRef refused %s, but this Nix builds %s", dir, escaped)
	}
}
