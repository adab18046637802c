package nix

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nixdeck/nix/closurebench"
)

// TestRequisitesOrder sorts a real closure from the Nix database the way
// Nix sorts it and compares with what nix-store -qR prints, the order nvd
// reads versions in.
func TestRequisitesOrder(t *testing.T) {
	a, _ := closurebench.Pair(t, 300)
	root, err := filepath.EvalSymlinks(a)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lc := &LocalClosures{}
	defer lc.Close()
	db, err := openStoreDB(lc.dbPath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.close()
	c, err := db.closure(ctx, root, "")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	got, err := queryOrder(ctx, tx, root, c.Paths)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nix-store", "-qR", root).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(out))
	if len(want) < 300 || !slices.Equal(got, want) {
		t.Errorf("order of %d paths differs from nix-store -qR's %d", len(got), len(want))
	}
}
