package nix

import (
	"context"
	"strings"
	"testing"
)

// A copy's source may be a builder, a host like any other: a closure
// holding anything but store objects stops the copy before any target
// is asked about it.
func TestCopyManyRefusesAHostileClosure(t *testing.T) {
	for _, bad := range []string{"/etc/shadow", "/nix/store/../../etc/shadow", "/nix/store/short-x", outA + "/\x1b[2J"} {
		src, target := newFakeRunner(t), newFakeStore(t)
		src.expect("nix-store", "--query", "--requisites", outA).out(outB + "\n" + bad + "\n" + outA + "\n")
		o := CopyMany(context.Background(), src, []CopyTarget{{Runner: target}}, CopyRequest{Paths: []string{outA}})
		if o[0].Err == nil || !strings.Contains(o[0].Err.Error(), "closure: ") || strings.ContainsRune(o[0].Err.Error(), 0x1b) ||
			target.serving != 0 || len(target.locked) != 0 {
			t.Errorf("%q: %v (host: %d sessions running, asked about %v)", bad, o[0].Err, target.serving, target.locked)
		}
	}
}
