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

// TestRequisitesOrder sorts real closures the way Nix sorts them, from
// the Nix database and from the references nix-store --serve reports (the
// CLI fallback, one closure per walk and two in one walk), and compares
// with what nix-store -qR prints, the order nvd reads versions in.
func TestRequisitesOrder(t *testing.T) {
	a, b := closurebench.Pair(t, 300)
	nix.SetOrderAlways(t)
	var want [][]string
	for _, root := range []string{a, b} {
		out, err := exec.Command("nix-store", "-qR", root).Output()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, strings.Fields(string(out)))
	}
	for _, tt := range []struct {
		name  string
		noDB  bool
		roots []string
	}{{"database", false, []string{a, b}}, {"nix-store, one closure", true, []string{a}}, {"nix-store, two closures", true, []string{a, b}}} {
		lc := &nix.LocalClosures{NoDB: tt.noDB}
		cs, err := lc.QueryAll(context.Background(), tt.roots...)
		lc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if lc.UsedCLI != tt.noDB {
			t.Fatalf("%s: UsedCLI %v (%v)", tt.name, lc.UsedCLI, lc.DBErr)
		}
		for i, c := range cs {
			if len(want[i]) < 300 || !slices.Equal(c.Order, want[i]) {
				t.Errorf("%s: order of %d paths differs from nix-store -qR's %d", tt.name, len(c.Order), len(want[i]))
			}
		}
	}
}
