package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// TestStatusCacheOnLab runs status on a lab with a cache, one host (on
// current Nix) not trusting its key: the table and the JSON say per host
// whether it can pull from the cache, as the host's own Nix sees it.
func TestStatusCacheOnLab(t *testing.T) {
	t.Setenv("NIX_CONFIG", "substituters =")
	l := labtest.StartWith(t, lab.Options{Hosts: 3, Current: 1, Cache: true})
	if err := l.SetCacheTrust("db01", false); err != nil {
		t.Fatal(err)
	}
	g := &globals{File: l.FleetPath}
	var out, errOut bytes.Buffer
	if err := (&statusCmd{}).run(context.Background(), g, &out, &errOut); err != nil {
		t.Fatalf("status: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "  CACHE  ") || !strings.Contains(lines[1], "  cache ok  ") ||
		!strings.Contains(lines[2], "  cache ok  ") || !strings.Contains(lines[3], "  key not trusted  ") {
		t.Errorf("status table:\n%s", out.String())
	}
	out.Reset()
	if err := (&statusCmd{JSON: true}).run(context.Background(), g, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var hosts []hostStatusJSON
	if err := json.Unmarshal(out.Bytes(), &hosts); err != nil || len(hosts) != 3 {
		t.Fatalf("status --json: %v\n%s", err, out.String())
	}
	for _, h := range hosts {
		want := "cache ok"
		if h.Host == "db01" {
			want = "key not trusted"
		}
		if h.Cache != want || h.CacheError != "" {
			t.Errorf("%s: cache %q (%s), want %q", h.Host, h.Cache, h.CacheError, want)
		}
	}
}
