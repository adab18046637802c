package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
)

// The build's lines about where systems were built and the push to the
// cache: one line when the push knows its size, one when it ends, none
// for the progress between; hostile text stays inert.
func TestPrintBuilderAndPush(t *testing.T) {
	l := &eventLog{at: time.Now(), op: "deploy-1"}
	l.add(fleet.OpStarted{EventBase: l.base(""), Kind: "build", Hosts: []string{"web01"}},
		fleet.BuiltEvent{EventBase: l.base("web01"), System: sysB, Where: "builder:big"},
		fleet.CachePushEvent{EventBase: l.base(""), Cache: "s3://cache", PathsTotal: 12},
		fleet.CachePushEvent{EventBase: l.base(""), Cache: "s3://cache", Paths: 5, PathsTotal: 12, Bytes: 4096},
		fleet.CachePushEvent{EventBase: l.base(""), Cache: "s3://cache", Paths: 12, PathsTotal: 12, Bytes: 3 << 20, Done: true},
		fleet.CachePushEvent{EventBase: l.base(""), Cache: "file:///c", Done: true, Err: errors.New("denied \x1b[2J")},
		fleet.DoneEvent{EventBase: l.base("web01")},
		fleet.OpFinished{EventBase: l.base("")})
	out, _ := printAll(l.events, false)
	assertInert(t, "build output", out)
	for _, want := range []string{"built " + storeName(sysB) + " on builder:big", "cache: pushing 12 paths to s3://cache",
		"cache: pushed 12 paths (3.0 MiB) to s3://cache", `cache: push to file:///c failed: denied \x1b[2J`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "cache:") != 3 {
		t.Errorf("progress printed:\n%s", out)
	}
	js, _ := printAll(l.events, true)
	if !strings.Contains(js, `"type":"cache_push"`) || !strings.Contains(js, `"where":"builder:big"`) {
		t.Errorf("JSON:\n%s", js)
	}
}
