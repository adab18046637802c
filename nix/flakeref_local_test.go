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

	"nixdeck/internal/testenv"
	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// sourceFlake is a flake whose one output lists what Nix copied of it
// (the source's store path and its entries two levels down; the sandbox
// has no ls, the shell's globs do) and tracked.txt's content, so a test
// sees exactly what landed in the store. ${self} is quoted: under Nix 2.26
// it is the flake's subdirectory (under 2.8 the checkout's top-level),
// whose name may hold a space or '#'.
const sourceFlake = `{
  outputs = { self }: {
    src = derivation { name = "flake-source-listing"; system = "x86_64-linux"; builder = "/bin/sh";
      tracked = builtins.readFile ./tracked.txt;
      args = [ "-c" "echo \"SELF=${self}\"; for f in \"${self}\"/* \"${self}\"/.* \"${self}\"/*/* \"${self}\"/*/.*; do echo \"$f\"; done; echo \"$tracked\"; echo > $out" ]; };
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

// needGit skips without git, except under CI where it must exist.
func needGit(t *testing.T) {
	t.Helper()
	testenv.NeedCommands(t, "git")
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
func buildSource(t *testing.T, flake nix.Flake) (storePath, listing string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var lines []string
	req := nix.BuildRequest{Flake: flake.Ref, WorkDir: flake.Dir, Attrs: map[string]string{"n": "src"}, Log: func(l string) { lines = append(lines, l) }}
	if _, err := nix.Build(ctx, nix.LocalRunner{}, req); err != nil {
		t.Fatalf("build %s: %v", flake, err)
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
	t.Fatalf("build %s: the builder did not print its source:\n%s", flake, log)
	return "", ""
}

// newCheckout makes a git checkout at repo with the source flake in its
// subdirectory sub ("." for the top), commits flake.nix and tracked.txt,
// then changes tracked.txt without committing (a fresh change each run,
// so that Nix builds and logs again) and returns the change.
func newCheckout(t *testing.T, repo, sub string) string {
	t.Helper()
	dir := filepath.Join(repo, sub)
	writeSourceFlake(t, dir)
	git(t, repo, "init", "-q")
	git(t, repo, "add", "--", filepath.Join(sub, "flake.nix"), filepath.Join(sub, "tracked.txt"))
	git(t, repo, "commit", "-q", "-m", "fleet")
	change := "uncommitted " + time.Now().Format(time.RFC3339Nano) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "tracked.txt"), []byte(change), 0o644); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(change)
}

// checkTrackedOnly builds flake, the checkout's subdirectory sub, and
// checks that the store got tracked.txt with its uncommitted change, and
// neither the untracked secret.bin nor .git.
func checkTrackedOnly(t *testing.T, flake nix.Flake, sub, change string) {
	t.Helper()
	src, log := buildSource(t, flake)
	if !strings.Contains(log, change) || strings.Contains(log, "secret.bin") || strings.Contains(log, "/.git") {
		t.Errorf("git checkout, %s: the build saw:\n%s\nwant tracked.txt's uncommitted content, no secret.bin, no .git", flake, log)
	}
	for _, f := range []string{filepath.Join(sub, "secret.bin"), ".git"} {
		if _, err := os.Lstat(filepath.Join(src, f)); err == nil {
			t.Errorf("%s: %s is in the store: %s", flake, f, src)
		}
	}
	if _, err := os.Lstat(filepath.Join(src, sub, "tracked.txt")); err != nil {
		t.Errorf("%s: the tracked file is not in the store: %v", flake, err)
	}
}

// TestFlakeRefCopiesTrackedFilesOnly builds with the installed Nix: a
// flake in a git checkout (in a subdirectory whose name needs escapes)
// copies only tracked files, its uncommitted changes included, and no
// .git; the same flake outside git is copied whole, secret and all.
func TestFlakeRefCopiesTrackedFilesOnly(t *testing.T) {
	nixtest.NeedNix(t)
	needGit(t)
	repo := t.TempDir()
	sub := "my fleet #1?"
	change := newCheckout(t, repo, sub)
	flake, err := nix.FlakeRef(filepath.Join(repo, sub))
	if want := (nix.Flake{Ref: "git+file://" + repo + "?dir=my%20fleet%20%231%3F"}); flake != want || err != nil {
		t.Fatalf("FlakeRef = %+v, %v; want %+v", flake, err, want)
	}
	checkTrackedOnly(t, flake, sub, change)

	plain := filepath.Join(t.TempDir(), "fleet")
	writeSourceFlake(t, plain)
	flake, err = nix.FlakeRef(plain)
	if flake != (nix.Flake{Ref: "path:" + plain}) || err != nil {
		t.Fatalf("FlakeRef(not a checkout) = %+v, %v", flake, err)
	}
	src, log := buildSource(t, flake)
	if _, err := os.Lstat(filepath.Join(src, "secret.bin")); err != nil || !strings.Contains(log, "secret.bin") {
		t.Errorf("path: should copy the whole directory (this is what git+file avoids): %v\n%s", err, log)
	}
}

// TestFlakeRefCheckoutWithURLCharacters: a git checkout whose top-level
// has a space, '#' and '?' builds its working tree, tracked files only,
// with the flake at the top and in a subdirectory: from the escaped
// absolute URL (Nix 2.19 and later) or, on an older Nix, from
// git+file:. run in the top-level.
func TestFlakeRefCheckoutWithURLCharacters(t *testing.T) {
	nixtest.NeedNix(t)
	needGit(t)
	for _, sub := range []string{".", "fleet"} {
		repo := filepath.Join(t.TempDir(), "my infra #1?")
		change := newCheckout(t, repo, sub)
		flake, err := nix.FlakeRef(filepath.Join(repo, sub))
		query := ""
		if sub != "." {
			query = "?dir=" + sub
		}
		absolute := nix.Flake{Ref: "git+file://" + strings.NewReplacer(" ", "%20", "#", "%23", "?", "%3F").Replace(repo) + query}
		if relative := (nix.Flake{Ref: "git+file:." + query, Dir: repo}); err != nil || flake != absolute && flake != relative {
			t.Fatalf("FlakeRef = %+v, %v; want %+v or %+v", flake, err, absolute, relative)
		}
		checkTrackedOnly(t, flake, sub, change)
	}
}

// TestFlakeRefEscapesWithInstalledNix: a directory whose path needs
// %-escapes builds, whole as it is not a checkout, whatever the Nix: from
// the escaped absolute URL (2.19 and later decode it) or from path: run in
// the directory, which FlakeRef chooses only when the installed Nix cannot
// use the escaped URL, as the test confirms by trying it.
func TestFlakeRefEscapesWithInstalledNix(t *testing.T) {
	nixtest.NeedNix(t)
	dir := filepath.Join(t.TempDir(), "my fleet #1?")
	writeSourceFlake(t, dir)
	flake, err := nix.FlakeRef(dir)
	escaped := "path:" + strings.NewReplacer(" ", "%20", "#", "%23", "?", "%3F").Replace(dir)
	if err != nil || flake != (nix.Flake{Ref: escaped}) && flake != (nix.Flake{Ref: "path:.", Dir: dir}) {
		t.Fatalf("FlakeRef = %+v, %v", flake, err)
	}
	if src, log := buildSource(t, flake); !strings.Contains(log, "secret.bin") || !strings.Contains(log, "committed") {
		t.Errorf("build of %s (%s):\n%s", flake, src, log)
	}
	if flake.Dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := nix.Build(ctx, nix.LocalRunner{}, nix.BuildRequest{Flake: escaped, Attrs: map[string]string{"n": "src"}}); err == nil {
		t.Errorf("FlakeRef ran Nix in %s, but this Nix builds %s", dir, escaped)
	}
}
