package nix_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"nixdeck/internal/tail"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
	"nixdeck/nix"
)

// currentNixTests are the tests of this package that run the operator's
// side of nixdeck against the local Nix: evaluation and builds, flake
// references, the closure read from the Nix database (its schema) and
// through nix-store (the fallback), the local diff's inputs, the store
// operations a copy and a GC root rely on. TestOperatorOnCurrentNix runs
// them against current Nix too. Two are left out for time, their subject
// being no Nix version's: TestLocalClosuresWhileNixWrites (minutes; SQLite's
// busy handling) and TestCopyLocalStores (a 3,000-path copy, 20 s under
// 2.26; TestCopyManyLocalStores copies between the same kind of stores).
var currentNixTests = []string{
	"TestBuildLocalFlake", "TestBuildLocalClassic", "TestBuildLocalCancel", "TestBuildLocalBadAttr",
	"TestFlakeRefCopiesTrackedFilesOnly", "TestFlakeRefCheckoutWithURLCharacters", "TestFlakeRefEscapesWithInstalledNix",
	"TestLocalClosures", "TestClosureWithoutKernel", "TestClosureWithRealSW", "TestEqualSpellingsFromDatabase", "TestRequisitesOrder",
	"TestRegistrationTextLoads", "TestGCRootSurvivesGC", "TestCopyManyLocalStores",
	"TestEtcNeverLeavesTheStore", "TestLocalBootSpec", "TestDrvSystemsLocal",
}

// currentNixConf is /etc/nix/nix.conf of the tests under current Nix: what
// Debian's nix-bin has on the machine (no sandbox: the tests' derivations
// use the machine's /bin/sh) and no build users (the root has no nixbld
// group); every feature beyond that must come from nixdeck's own argv.
const currentNixConf = "sandbox = false\nbuild-users-group =\nsubstituters =\n"

// TestOperatorOnCurrentNix runs currentNixTests again, the test binary
// chrooted in the lab's Debian 13 root with a store of its own: the
// database it reads is current Nix's schema, and every nix, nix-store
// and nix-build it runs is current Nix.
func TestOperatorOnCurrentNix(t *testing.T) {
	root := labtest.Root(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	run := lab.RootRun{Nix: filepath.Join(tmp, "nix"), EtcNix: filepath.Join(tmp, "etc-nix"),
		Share: []string{filepath.Dir(exe), wd}, Dir: wd, Env: childEnv()}
	for _, d := range []string{run.Nix, run.EtcNix, filepath.Join(tmp, "scratch")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(run.EtcNix, "nix.conf"), []byte(currentNixConf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	inRoot := func(argv ...string) (string, error) {
		r := run
		r.Argv = argv
		cmd, err := lab.RootCommand(ctx, root, filepath.Join(tmp, "scratch"), r)
		if err != nil {
			return "", err
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err = cmd.Run()
		return out.String(), err
	}

	// The tests must meet the root's Nix, not the machine's.
	out, err := inRoot("nix", "--version")
	if v, verr := nix.ParseNixVersion(out); err != nil || verr != nil || v != root.Nix {
		t.Fatalf("nix --version in the root: %q %v %v; want %s", out, err, verr, root.Nix)
	}
	if mine, err := exec.Command("nix", "--version").Output(); err == nil && strings.TrimSpace(string(mine)) == strings.TrimSpace(out) {
		t.Fatalf("the root's Nix is the machine's: %s", out)
	}

	out, err = inRoot(exe, "-test.run", "^("+strings.Join(currentNixTests, "|")+")$", "-test.v", "-test.count=1")
	if msg := checkRun(out, currentNixTests); err != nil || msg != "" {
		t.Fatalf("under Nix %s: %v%s\n%s", root.Nix, err, msg, tail.LastLines(out, 80))
	}
	t.Logf("under Nix %s, passed: %s", root.Nix, strings.Join(currentNixTests, ", "))
}

// childEnv is the environment of the test binary in the root: this one's
// (CI=true must reach it) without what names the machine's paths.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "PATH", "HOME", "TMPDIR", "XDG_CACHE_HOME", "XDG_STATE_HOME", "NIX_USER_CONF_FILES", "NIX_REMOTE", "GOCOVERDIR":
		default:
			env = append(env, kv)
		}
	}
	return append(env, "HOME=/root")
}

// testLine is a top-level test's result line in -test.v output.
var testLine = regexp.MustCompile(`(?m)^--- (PASS|FAIL|SKIP): (\S+) `)

// checkRun says which of the named tests did not pass in -test.v output:
// a skip counts as a failure, as does a test that never ran (renamed).
func checkRun(out string, names []string) string {
	got := map[string]string{}
	for _, m := range testLine.FindAllStringSubmatch(out, -1) {
		got[m[2]] = m[1]
	}
	var msg strings.Builder
	for _, n := range names {
		if r := got[n]; r != "PASS" {
			if r == "" {
				r = "did not run"
			}
			fmt.Fprintf(&msg, "\n%s: %s", n, r)
		}
	}
	return msg.String()
}

// TestCheckRun: only a listed test's top-level PASS line counts; a skip,
// a failure and a test that never ran are each named.
func TestCheckRun(t *testing.T) {
	out := `=== RUN   TestA
--- PASS: TestA (0.01s)
=== RUN   TestB
    --- PASS: TestB/sub (0.00s)
--- FAIL: TestB (0.02s)
--- SKIP: TestC (0.00s)
    --- PASS: TestD (0.00s)
`
	if got := checkRun(out, []string{"TestA"}); got != "" {
		t.Errorf("all passed: %q", got)
	}
	if got, want := checkRun(out, []string{"TestA", "TestB", "TestC", "TestD", "TestE"}), "\nTestB: FAIL\nTestC: SKIP\nTestD: did not run\nTestE: did not run"; got != want {
		t.Errorf("checkRun = %q, want %q", got, want)
	}
}
