package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
)

// The build's lines about where systems were built and the push to the
// cache: one line when the push knows its size, one when it ends, one
// per tenth of the paths between; hostile text stays inert.
func TestPrintBuilderAndPush(t *testing.T) {
	l := &eventLog{at: time.Now(), op: "deploy-1"}
	l.add(fleet.OpStarted{EventBase: l.base(""), Kind: "build", Hosts: []string{"web01"}},
		fleet.BuiltEvent{EventBase: l.base("web01"), System: sysB, Where: "builder:big"},
		fleet.CachePushEvent{EventBase: l.base(""), Cache: "s3://cache", PathsTotal: 12},
		fleet.CachePushEvent{EventBase: l.base(""), Cache: "s3://cache", Paths: 1, PathsTotal: 12, Bytes: 4096},
		fleet.CachePushEvent{EventBase: l.base(""), Cache: "s3://cache", Paths: 5, PathsTotal: 12, Bytes: 5 << 20},
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
	if strings.Count(out, "* cache: ") != 4 || !strings.Contains(out, "cache: pushing to s3://cache: 5/12 paths, 5.0 MiB\n") {
		t.Errorf("progress printed:\n%s", out)
	}
	js, _ := printAll(l.events, true)
	if !strings.Contains(js, `"type":"cache_push"`) || !strings.Contains(js, `"where":"builder:big"`) {
		t.Errorf("JSON:\n%s", js)
	}
}

// A long push prints its progress once per tenth of its paths, whatever
// the number of events and however fast they come: 40 paths, one event
// each, make 9 lines between the first and the last.
func TestPrintPushProgressIsThrottled(t *testing.T) {
	l := &eventLog{at: time.Now(), op: "deploy-1"}
	l.add(fleet.OpStarted{EventBase: l.base(""), Kind: "build", Hosts: []string{"web01"}},
		fleet.CachePushEvent{EventBase: l.base(""), Cache: "file:///c", PathsTotal: 40})
	for i := 1; i <= 40; i++ {
		l.add(fleet.CachePushEvent{EventBase: l.base(""), Cache: "file:///c", Paths: i, PathsTotal: 40, Bytes: int64(i) << 20})
	}
	l.add(fleet.CachePushEvent{EventBase: l.base(""), Cache: "file:///c", Paths: 40, PathsTotal: 40, Bytes: 40 << 20, Done: true},
		fleet.OpFinished{EventBase: l.base("")})
	out, _ := printAll(l.events, false)
	var progress []string
	for _, line := range strings.Split(out, "\n") {
		if _, p, ok := strings.Cut(line, "cache: pushing to file:///c: "); ok {
			progress = append(progress, p)
		}
	}
	want := []string{"4/40 paths, 4.0 MiB", "8/40 paths, 8.0 MiB", "12/40 paths, 12.0 MiB", "16/40 paths, 16.0 MiB",
		"20/40 paths, 20.0 MiB", "24/40 paths, 24.0 MiB", "28/40 paths, 28.0 MiB", "32/40 paths, 32.0 MiB", "36/40 paths, 36.0 MiB"}
	if strings.Join(progress, "|") != strings.Join(want, "|") {
		t.Errorf("progress lines %q, want %q:\n%s", progress, want, out)
	}
}
