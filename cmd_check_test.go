package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"nixdeck/fleet"
	"nixdeck/nix"
)

// checkOutput runs `nixdeck check -f file` and returns stdout, stderr and
// the error Run returned.
func checkOutput(t *testing.T, file string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := (&checkCmd{}).run(&globals{File: file}, &out, &errOut)
	return out.String(), errOut.String(), err
}

// wantExit checks that err carries exit code want.
func wantExit(t *testing.T, err error, want int) {
	t.Helper()
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != want {
		t.Errorf("err = %v, want exit code %d", err, want)
	}
}

func TestCheckSummary(t *testing.T) {
	t.Setenv("HOME", "/home/op")
	// A copy in a directory with a .git, so that the flake reference does
	// not depend on where (or whether in git) this checkout lives.
	dir := t.TempDir()
	// The secret key is private, as it should be: no warning about it.
	for name, mode := range map[string]os.FileMode{"fleet.yaml": 0o644, "known_hosts": 0o644, "cache-key.sec": 0o600} {
		b, err := os.ReadFile(filepath.Join("fleet/testdata/check", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := checkOutput(t, filepath.Join(dir, "fleet.yaml"))
	if err != nil {
		t.Fatalf("check: %v\n%s", err, errOut)
	}
	golden, err := os.ReadFile("fleet/testdata/check/summary.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got := withDir(out, dir); got != withDir(string(golden), dir) {
		t.Errorf("summary:\n%s\nwant (fleet/testdata/check/summary.golden):\n%s", got, golden)
	}
	wantWarn := "warning: flake " + dir + "/flake.nix does not exist\n" +
		"warning: identity /home/op/.ssh/db_ed25519 does not exist\n"
	if errOut != wantWarn {
		t.Errorf("stderr = %q, want %q", errOut, wantWarn)
	}
}

// TestCheckFiles: check names the reference a local flake is built from,
// flags identity and known_hosts paths that are directories, a flake.nix
// git does not track, and nodes whose default known_hosts needs a $HOME
// that is not set.
func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"keys", "kh"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fleetFile := filepath.Join(dir, "fleet.yaml")
	text := "flake: ./\nnodes:\n  a: {host: h, identity: ./keys, known_hosts: ./kh}\n  b: {host: i}\n  c: {host: j}\n"
	for name, data := range map[string]string{"fleet.yaml": text, "flake.nix": "{ outputs = _: {}; }\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", "")
	out, errOut, err := checkOutput(t, fleetFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\n       built as path:" + dir + " (not a git checkout: Nix copies the whole directory)\n"; !strings.Contains(out, want) {
		t.Errorf("summary lacks %q:\n%s", want, out)
	}
	want := "warning: identity " + dir + "/keys is a directory, not a file\n" +
		"warning: known_hosts " + dir + "/kh is a directory, not a file\n" +
		"warning: known_hosts of b, c: ~/.ssh/known_hosts, but $HOME is not set: set HOME, or known_hosts in the fleet file\n"
	if errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}

	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("needs git: %v", err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "fleet.yaml"}} {
		if b, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	out, errOut, _ = checkOutput(t, fleetFile)
	untracked := "warning: flake " + dir + "/flake.nix: git does not track flake.nix, and Nix copies only tracked files of a git checkout: git add it\n"
	if !strings.Contains(out, "built as git+file://"+dir+" (a git checkout: Nix copies the files git tracks)\n") || !strings.Contains(errOut, untracked) {
		t.Errorf("untracked flake.nix in a git checkout:\n%s\n%s", out, errOut)
	}
	if b, err := exec.Command("git", "-C", dir, "add", "flake.nix").CombinedOutput(); err != nil {
		t.Fatalf("git add: %v\n%s", err, b)
	}
	if _, errOut, _ = checkOutput(t, fleetFile); strings.Contains(errOut, "does not track") {
		t.Errorf("flake.nix added, still warned:\n%s", errOut)
	}
}

// TestCheckSummaryRunDir: when Nix must run in the flake's checkout (its
// path needs escapes this Nix does not decode), check says where and why.
func TestCheckSummaryRunDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my infra #1?")
	if err := os.MkdirAll(filepath.Join(dir, "fleet"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "fleet", "fleet.yaml")
	if err := os.WriteFile(path, []byte("flake: ./\nnodes:\n  a: {host: h}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := fleet.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	writeSummary(&out, f, nix.Flake{Ref: "git+file:.?dir=fleet", Dir: dir})
	want := "flake  " + dir + "/fleet\n" +
		"       built as git+file:.?dir=fleet (a git checkout: Nix copies the files git tracks)\n" +
		"       with Nix run in " + dir + ": its path needs %-escapes in a URL, which this Nix does not decode\n"
	if !strings.Contains(out.String(), want) {
		t.Errorf("summary:\n%s\nwant it to hold:\n%s", out.String(), want)
	}
}

// withDir replaces the checkout's directory with $DIR and, on lines that
// held it and on the header of their table, folds runs of spaces: the column
// widths there depend on where the checkout lives, the rest of the layout
// must match to the space.
func withDir(s, dir string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.Contains(l, dir) || strings.Contains(l, "$DIR") || strings.Contains(l, "KNOWN_HOSTS") {
			l = strings.ReplaceAll(l, dir, "$DIR")
			lines[i] = strings.Join(strings.Fields(l), " ")
		}
	}
	return strings.Join(lines, "\n")
}

func TestCheckExample(t *testing.T) {
	out, _, err := checkOutput(t, "fleet.example.yaml")
	if err != nil {
		t.Fatalf("fleet.example.yaml must stay valid (make demo checks it): %v", err)
	}
	if !strings.Contains(out, "canary  @canary: web01\n") || !strings.Contains(out, "nodes  2\n") ||
		!strings.Contains(out, "\nbig      build01.example.com  nix   22    x86_64-linux  8\n\ncache  none\n") {
		t.Errorf("summary of the example:\n%s", out)
	}
}

func TestCheckInvalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.yaml")
	bad := "flake: ./\nnodes:\n  web01:\n    host: h\n    port: 70000\n  web01: {host: i}\ndeploy: {canary: '@x'}\n"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := checkOutput(t, path)
	wantExit(t, err, 2)
	if out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
	want := path + ":5:5: nodes.web01.port: 70000 is not a port (1-65535)\n" +
		path + ":6:3: nodes.web01: duplicate node name (first at line 3)\n" +
		path + ":7:10: deploy.canary: selector \"@x\": no node has that tag\n"
	if errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}
	if err == nil || err.Error() != path+" is invalid: 3 errors" {
		t.Errorf("err = %v", err)
	}
}

func TestCheckNoFleetFile(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("NIXDECK_FLEET", "")
	_, _, err := checkOutput(t, "")
	wantExit(t, err, 2)
	_, _, err = checkOutput(t, "missing.yaml")
	wantExit(t, err, 2)
}
