package nix

import (
	"context"
	"errors"
	"strings"
	"testing"
)

var testSSH = &SSHSession{Store: "ssh-ng://nixdeck-builder", Env: []string{"NIX_SSHOPTS=-F /tmp/x/ssh_config"}}

func TestBuildOnStore(t *testing.T) {
	local, builder := newFakeRunner(t), newFakeRunner(t)
	env := testSSH.Env
	local.expect(NixCmd("copy", "--derivation", "--no-check-sigs", "--to", "ssh-ng://nixdeck-builder", drvB, drvA)...).withEnv(env...)
	local.expect("nix-store", "--store", "ssh-ng://nixdeck-builder", "--realise", "--keep-going", "--max-jobs", "8", drvB, drvA).
		withEnv(env...).out(outB + "\n" + outA + "\n").errout("building '" + drvA + "'...\n")
	builder.expect("sh", "-c", rootScript, "sh", outB, GCRootDir+"/op-1-0").priv()
	builder.expect("sh", "-c", rootScript, "sh", outA, GCRootDir+"/op-1-1").priv()
	var log []string
	got, err := BuildOnStore(context.Background(), local, StoreBuild{Builder: "builder:big", SSH: testSSH, MaxJobs: 8,
		Drvs: map[string]Derivation{"web1": {drvA, outA}, "web2": {drvA, outA}, "db1": {drvB, outB}},
		Root: GCRootDir + "/op-1", Runner: builder, Log: func(l string) { log = append(log, l) }})
	if err != nil {
		t.Fatal(err)
	}
	if got.Systems["web1"] != outA || got.Systems["web2"] != outA || got.Systems["db1"] != outB || len(got.Systems) != 3 {
		t.Errorf("systems %v", got.Systems)
	}
	if strings.Join(got.Roots, " ") != GCRootDir+"/op-1-0 "+GCRootDir+"/op-1-1" {
		t.Errorf("roots %v", got.Roots)
	}
	if len(log) != 1 || !strings.Contains(log[0], "building") {
		t.Errorf("log %q", log)
	}
}

// TestBuildOnStorePartial: with --keep-going one system fails; the
// builder's store says which exist, and only the failed node errs.
func TestBuildOnStorePartial(t *testing.T) {
	local := newFakeRunner(t)
	env := testSSH.Env
	local.expect("nix-store", "--query", "--outputs", drvA).out(outA + "\n")
	local.expect(NixCmd("copy", "--derivation", "--no-check-sigs", "--to", "ssh-ng://nixdeck-builder", drvB, drvA)...).withEnv(env...)
	local.expect("nix-store", "--store", "ssh-ng://nixdeck-builder", "--realise", "--keep-going", drvB, drvA).
		withEnv(env...).errout("error: builder for '" + drvB + "' failed with exit code 1\n").exit(1)
	local.expect("nix-store", "--store", "ssh-ng://nixdeck-builder", "--check-validity", "--print-invalid", outB, outA).
		withEnv(env...).out(outB + "\n")
	got, err := BuildOnStore(context.Background(), local, StoreBuild{Builder: "builder:big", SSH: testSSH,
		Drvs: map[string]Derivation{"web1": {DrvPath: drvA}, "db1": {drvB, outB}}})
	if got.Systems["web1"] != outA || len(got.Systems) != 1 {
		t.Errorf("systems %v", got.Systems)
	}
	own := NodeErrors(err)
	if own["db1"] == nil || own["web1"] != nil || !strings.Contains(own["db1"].Cause(), "failed with exit code 1") {
		t.Fatalf("errors %v: %v", own, err)
	}
	if !strings.Contains(err.Error(), "builder:big") && !strings.Contains(own["db1"].Err.Error(), "builder:big") {
		t.Errorf("error does not name the builder: %v", err)
	}
}

// TestBuildOnStoreCopyFails: the builder refuses the derivations (an
// untrusted login): every node fails with Nix's reason.
func TestBuildOnStoreCopyFails(t *testing.T) {
	local := newFakeRunner(t)
	local.expect(NixCmd("copy", "--derivation", "--no-check-sigs", "--to", "ssh-ng://nixdeck-builder", drvA)...).withEnv(testSSH.Env...).
		errout("error: cannot add path '" + drvA + "' because it lacks a signature by a trusted key\n").exit(1)
	_, err := BuildOnStore(context.Background(), local, StoreBuild{Builder: "builder:big", SSH: testSSH,
		Drvs: map[string]Derivation{"web1": {drvA, outA}}})
	var be *BuildError
	if !errors.As(err, &be) || be.Nodes[0] != "web1" || !strings.Contains(be.Cause(), "lacks a signature") ||
		!strings.Contains(be.Err.Error(), "builder:big: send the derivations") {
		t.Fatalf("err %v", err)
	}
}
