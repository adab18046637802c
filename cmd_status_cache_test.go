package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"nixdeck/nix"
)

// With a cache in the fleet, the table and the JSON say per host whether
// it substitutes from it; a host whose settings could not be read says
// why, and a host's text in the cell is made visible.
func TestStatusCacheColumn(t *testing.T) {
	sts := testStatuses(t)
	sts[0].Cache = nix.CacheOK
	sts[2].CacheErr = errors.New("web2: nix show-config: exit status 1: error: \x1b[2Jbad")
	var b bytes.Buffer
	if err := writeStatusTable(&b, sts); err != nil {
		t.Fatal(err)
	}
	want := `HOST  GEN  RUNNING                                   VERSION                          REBOOT  SWITCH LOCK  NIXDECK LOCK  CACHE                                                           UPTIME
web1  2    nixos-system-web1-24.05.20240701.89abcde  24.05.20240701.89abcde (Uakari)  yes     free         free          cache ok                                                        1d2h
db1   -    error: db1 (127.0.0.1:2202): dial: connection refused
web2  2    nixos-system-web1-24.05.20240701.89abcde  24.05.20240701.89abcde (Uakari)  yes     free         free          error: web2: nix show-config: exit status 1: error: \x1b[2Jbad  1d2h
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	sts[2].CacheErr, sts[2].Cache = nil, nix.CacheKeyNotTrusted
	var hosts []map[string]any
	b.Reset()
	if err := writeJSON(&b, statusJSON(sts)); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b.Bytes(), &hosts); err != nil {
		t.Fatal(err)
	}
	if hosts[0]["cache"] != "cache ok" || hosts[1]["cache"] != nil || hosts[2]["cache"] != "key not trusted" {
		t.Errorf("JSON %s", b.String())
	}
}
