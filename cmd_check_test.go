package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	dir, _ := filepath.Abs("fleet/testdata/check")
	out, errOut, err := checkOutput(t, "fleet/testdata/check/fleet.yaml")
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
	if !strings.Contains(out, "canary  @canary: web01\n") || !strings.Contains(out, "nodes  2\n") {
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
