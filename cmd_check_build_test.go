package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckBuildersAndCache: a fleet without builders and cache says so;
// one with them lists the builders, the cache without signing, and warns
// about a secret key others can read and a builder's missing identity.
func TestCheckBuildersAndCache(t *testing.T) {
	t.Setenv("HOME", "/home/op")
	dir := t.TempDir()
	fleetFile := filepath.Join(dir, "fleet.yaml")
	write := func(name, data string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("known_hosts", "", 0o644)
	write("fleet.yaml", "flake: ./\ndefaults: {known_hosts: ./known_hosts}\nnodes:\n  a: {host: h}\n", 0o644)
	out, _, err := checkOutput(t, fleetFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "\nbuilders  none\n\ncache  none\n") {
		t.Errorf("no builders or cache: summary:\n%s", out)
	}

	key, err := os.ReadFile("fleet/testdata/check/cache-key.sec")
	if err != nil {
		t.Fatal(err)
	}
	write("k.sec", string(key), 0o640)
	write("fleet.yaml", `flake: ./
defaults: {known_hosts: ./known_hosts, build_on: builder:b1}
builders:
  b1: {host: 192.0.2.7, identity: ./keys/b1, max_jobs: 4}
cache:
  push: file:///srv/cache
  sign_key: ./k.sec
nodes:
  a: {host: h}
`, 0o644)
	out, errOut, err := checkOutput(t, fleetFile)
	if err != nil {
		t.Fatalf("check: %v\n%s", err, errOut)
	}
	for _, want := range []string{
		"a     h     -     -     auto  builder:b1  -",
		"\nBUILDER  HOST       USER  PORT  SYSTEMS       MAX_JOBS\nb1       192.0.2.7  -     -     x86_64-linux  4\n",
		"\ncache  push file:///srv/cache, signed with " + dir + "/k.sec\n       substituter none\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	wantWarn := "warning: flake " + dir + "/flake.nix does not exist\n" +
		"warning: sign_key " + dir + "/k.sec is readable by other users (mode 0640), who could sign paths every target trusts: chmod 600 it\n" +
		"warning: identity " + dir + "/keys/b1 does not exist\n"
	if errOut != wantWarn {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, wantWarn)
	}

	// A key that is not on this machine: the file loads, check warns.
	write("fleet.yaml", "flake: ./\ncache: {push: 'file:///srv/cache', sign_key: ./absent.sec}\nnodes:\n  a: {host: h}\n", 0o644)
	if _, errOut, err := checkOutput(t, fleetFile); err != nil || !strings.Contains(errOut, "warning: sign_key "+dir+"/absent.sec does not exist: a deploy from here pushes nothing to the cache\n") {
		t.Errorf("check without the key: %v, stderr:\n%s", err, errOut)
	}

	write("fleet.yaml", "flake: ./\ncache: {substituter: 'https://c', public_key: 'c:AAAA'}\nnodes:\n  a: {host: h, build_on: builder:none}\n", 0o644)
	out, errOut, err = checkOutput(t, fleetFile)
	wantExit(t, err, 2)
	want := fleetFile + ":2:35: cache.public_key: not a Nix public key (name:base64 of 32 bytes, as nix-store --generate-binary-cache-key writes): the key is 3 bytes, not 32\n" +
		fleetFile + ":4:16: nodes.a.build_on: no builder \"none\": the file has no builders section\n"
	if out != "" || errOut != want {
		t.Errorf("invalid builders and cache: stdout %q, stderr:\n%s\nwant:\n%s", out, errOut, want)
	}
}
