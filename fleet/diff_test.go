package fleet

import (
	"context"
	"strings"
	"testing"

	"nixdeck/nix"
)

// Given the systems already built, Diff builds nothing: a node without
// one fails with that cause, and no local command runs for it.
func TestDiffOfBuiltSystemsBuildsNothing(t *testing.T) {
	local := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		t.Errorf("ran %v", c.Argv)
		return nil
	})
	e := Open(&Fleet{Deploy: Deploy{Parallel: 2}}, Options{Connector: fakeConnector{}, Local: local})
	defer e.Close()
	ns := nodes("a", "b")
	res, err := CollectDiffs(ns, e.Diff(context.Background(), ns, DiffOptions{Systems: map[string]string{}}).All())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err == nil || !strings.Contains(r.Err.Error(), r.Node.Name+": build: no system was built for it") {
			t.Errorf("%s: %v", r.Node.Name, r.Err)
		}
	}
}
