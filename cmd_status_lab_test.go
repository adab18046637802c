package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"nixdeck/lab/labtest"
)

// TestStatusOnLab runs status and generations against a 3-host lab with
// one host down: the others are shown, the down one with its cause, exit 1.
// The lab is mixed: canary runs the machine's Nix 2.8, db01 Nix 2.26.
func TestStatusOnLab(t *testing.T) {
	t.Setenv("NIX_CONFIG", "substituters =")
	l := labtest.StartMixed(t, 3)
	if err := l.SetHost("web01", false); err != nil {
		t.Fatal(err)
	}
	g := &globals{File: l.FleetPath}
	var out, errOut bytes.Buffer
	err := (&statusCmd{}).run(context.Background(), g, &out, &errOut)
	var ee *exitError
	if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), "1 of 3 hosts could not be read: web01") {
		t.Errorf("status error = %v, want a plain (exit 1) error naming web01", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "canary  1    nixos-system-canary-") ||
		!strings.Contains(lines[2], "web01   -    error: web01") || !strings.Contains(lines[2], "connection refused") ||
		!strings.HasPrefix(lines[3], "db01    1    nixos-system-db01-") {
		t.Errorf("status table:\n%s", out.String())
	}

	out.Reset()
	err = (&generationsCmd{On: "@db,canary", JSON: true}).run(context.Background(), g, &out, &errOut)
	var gens []hostGenerationsJSON
	if jerr := json.Unmarshal(out.Bytes(), &gens); err != nil || jerr != nil || len(gens) != 2 {
		t.Fatalf("generations --json: %v %v\n%s", err, jerr, out.String())
	}
	for _, h := range gens {
		if len(h.Generations) != 1 || !h.Generations[0].Profile || !h.Generations[0].Running || !h.Generations[0].Booted {
			t.Errorf("%s generations %+v", h.Host, h.Generations)
		}
	}

	err = (&statusCmd{On: "nosuch"}).run(context.Background(), g, &out, &errOut)
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Errorf("unknown selector: %v, want exit 2", err)
	}
}
