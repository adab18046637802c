package main

import (
	"path/filepath"
	"strconv"
	"testing"

	"nixdeck/internal/benchcmp"
	"nixdeck/lab/labtest"
	"nixdeck/nix"
)

// BenchmarkStatusOneHost compares `nixdeck status` on one lab host with
// OpenSSH's client running the same state script on it: both open a new
// connection, authenticate with the lab key, check the host key strictly
// and read the same facts. ssh uses curve25519-sha256, the key exchange
// nixdeck's client negotiates with this sshd (OpenSSH 9.2's default,
// sntrup761x25519, is slower still). Target (issue 9): ratio ≤ 0.5.
//
// The machine it runs on is shared and its load moves within seconds, so
// the two run in pairs and the median ratio of 31 pairs or more (b.N if
// larger; up to 101 while the ratio's 95% interval holds the target) is
// judged: `make bench`'s 7 runs are too few to say anything under load.
func BenchmarkStatusOneHost(b *testing.B) {
	b.Setenv("NIX_CONFIG", "substituters =")
	l := labtest.Start(b, 1)
	h := l.Hosts[0]
	bin := buildNixdeck(b)
	ssh := []string{"ssh", "-F", "/dev/null", "-o", "KexAlgorithms=curve25519-sha256", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + filepath.Join(l.Dir, "known_hosts"),
		"-i", filepath.Join(l.Dir, "id_ed25519"), "-p", strconv.Itoa(h.Port), "root@127.0.0.1",
		nix.HostStateCmd().String()}
	benchcmp.ComparePaired(b,
		benchcmp.Side{Name: "nixdeck", Run: benchcmp.Command(b, nil, bin, "-f", l.FleetPath, "status", "--on", h.Name)},
		benchcmp.Side{Name: "ssh", Run: benchcmp.Command(b, nil, ssh...)},
		0.5, benchcmp.Paired{Min: 31, Max: 101})
}
