package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"nixdeck/internal/benchcmp"
	"nixdeck/lab"
	"nixdeck/nix"
)

// BenchmarkStatusOneHost compares `nixdeck status` on one lab host with
// OpenSSH's client running the same state script on it: both open a new
// connection, authenticate with the lab key, check the host key strictly
// and read the same facts. ssh uses curve25519-sha256, the key exchange
// nixdeck's client negotiates with this sshd (OpenSSH 9.2's default,
// sntrup761x25519, is slower still). Target (issue 9): ratio ≤ 0.5.
func BenchmarkStatusOneHost(b *testing.B) {
	b.Setenv("NIX_CONFIG", "substituters =")
	l := lab.Start(b, 1)
	h := l.Hosts[0]
	bin := buildNixdeck(b)
	ssh := []string{"ssh", "-F", "/dev/null", "-o", "KexAlgorithms=curve25519-sha256", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + filepath.Join(l.Dir, "known_hosts"),
		"-i", filepath.Join(l.Dir, "id_ed25519"), "-p", strconv.Itoa(h.Port), "root@127.0.0.1",
		nix.HostStateCmd().String()}
	benchcmp.Compare(b,
		benchcmp.Side{Name: "nixdeck", Run: benchcmp.Command(b, nil, bin, "-f", l.FleetPath, "status", "--on", h.Name)},
		benchcmp.Side{Name: "ssh", Run: benchcmp.Command(b, nil, ssh...)},
		0.5)
}

// buildNixdeck builds the nixdeck binary for benchmarks that time it as a
// whole process.
func buildNixdeck(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "nixdeck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
