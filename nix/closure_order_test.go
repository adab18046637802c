package nix_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"nixdeck/nix"
	"nixdeck/nix/closurebench"
)

// TestRequisitesOrder sorts a real closure from the Nix database the way
// Nix sorts it and compares with what nix-store -qR prints, the order nvd
// reads versions in.
func TestRequisitesOrder(t *testing.T) {
	a, _ := closurebench.Pair(t, 300)
	nix.SetOrderAlways(t)
	lc := &nix.LocalClosures{}
	defer lc.Close()
	c, err := lc.Query(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if lc.UsedCLI {
		t.Fatalf("the database was not used: %v", lc.DBErr)
	}
	out, err := exec.Command("nix-store", "-qR", a).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(out))
	if len(want) < 300 || !slices.Equal(c.Order, want) {
		t.Errorf("order of %d paths differs from nix-store -qR's %d", len(c.Order), len(want))
	}
}
