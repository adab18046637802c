package nix

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// Nix's own lines, as Nix 2.8 (this machine) and 2.26 (the lab's current
// hosts) write them while a host substitutes.
const (
	untrusted28  = "warning: the substitute for '/nix/store/agi4ba6x5mys7bifalh5nvyjmvb0xmw5-subst-demo' from 'http://127.0.0.1:18731' is not signed by any of the keys in 'trusted-public-keys'\n"
	untrusted226 = "warning: ignoring substitute for '/nix/store/agi4ba6x5mys7bifalh5nvyjmvb0xmw5-subst-demo' from 'http://127.0.0.1:18731', as it's not signed by any of the keys in 'trusted-public-keys'\n"
	retrying28   = "warning: error: unable to download 'http://127.0.0.1:9/nix-cache-info': Couldn't connect to server (7); retrying in 282 ms\n"
	refused28    = "warning: unable to download 'http://127.0.0.1:9/nix-cache-info': Couldn't connect to server (7)\n"
)

func TestSubstProblemOf(t *testing.T) {
	tests := []struct{ line, want string }{
		{untrusted28, SubstUntrusted},
		{untrusted226, SubstUntrusted},
		{retrying28, SubstUnreachable},
		{refused28, SubstUnreachable},
		{"error: unable to download 'http://c/nar/x.nar.xz': HTTP error 500 ('Internal Server Error')", SubstUnreachable},
		{"warning: disabling binary cache 'http://c' for 60 seconds", SubstUnreachable},
		{"warning: 'http://c' does not appear to be a binary cache", SubstUnreachable},
		{"error: substituter 'http://c' is disabled", SubstUnreachable},
		{"copying path '/nix/store/x-a' from 'http://127.0.0.1:18731'...", ""},
		{"warning: build of '/nix/store/x-a' failed", ""},
		// A path named like a message is not one.
		{"copying path '/nix/store/x-unable to download '", ""},
	}
	for _, tt := range tests {
		if got := substProblemOf(tt.line); got != tt.want {
			t.Errorf("substProblemOf(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

// The log classifies lines however the writes cut them, prefers the
// untrusted cause, and reports Nix's message without its prefixes.
func TestSubstLogClassifiesAcrossWrites(t *testing.T) {
	text := "copying path '/nix/store/x-a' from 'http://c'...\n" + retrying28 + untrusted28 + refused28
	for _, step := range []int{1, 7, len(text)} {
		var l substLog
		for i := 0; i < len(text); i += step {
			l.Write([]byte(text[i:min(i+step, len(text))]))
		}
		problem, detail := l.result()
		want := strings.TrimSuffix(strings.TrimPrefix(untrusted28, "warning: "), "\n")
		if problem != SubstUntrusted || detail != want {
			t.Errorf("writes of %d: %q, %q; want untrusted, %q", step, problem, detail, want)
		}
	}
	var l substLog
	l.Write([]byte(retrying28))
	if problem, detail := l.result(); problem != SubstUnreachable ||
		detail != "unable to download 'http://127.0.0.1:9/nix-cache-info': Couldn't connect to server (7)" {
		t.Errorf("retrying: %q, %q", problem, detail)
	}
}

// A hostile host: escapes are escaped, a line without end costs at most
// maxSubstLine and its message is cut to maxSubstDetail; a last line
// without a newline still counts.
func TestSubstLogHostile(t *testing.T) {
	var l substLog
	l.Write([]byte("warning: unable to download '\x1b]52;c;aGk=\x07http://c': \u009b31m" + strings.Repeat("é", 100000)))
	if len(l.line) > maxSubstLine {
		t.Errorf("kept %d bytes of one line", len(l.line))
	}
	problem, detail := l.result()
	if problem != SubstUnreachable || len(detail) > maxSubstDetail || strings.ContainsAny(detail, "\x1b\x07\u009b") ||
		!strings.HasPrefix(detail, `unable to download '\x1b]52;c;aGk=\x07http://c': \u009b31m`) || !strings.HasSuffix(detail, "é…") {
		t.Errorf("%q, %q", problem, detail)
	}
	var quiet substLog
	quiet.Write([]byte(strings.Repeat("x", 10*maxSubstLine) + "\n"))
	if p, d := quiet.result(); p != "" || d != "" {
		t.Errorf("no problem said, got %q, %q", p, d)
	}
}

// TestCopyManyReportsCacheProblem: a host whose Nix refused its cache's
// paths gets them from us, and the result says why; a host that lacked
// nothing after substituting reports no problem whatever Nix said.
func TestCopyManyReportsCacheProblem(t *testing.T) {
	f := newManyFixture(t, 2)
	for _, h := range f.hosts {
		h.cache[pMid] = f.local.paths[pMid]
		h.cache[pTop] = f.local.paths[pTop]
		h.substStderr = untrusted226
	}
	delete(f.hosts[0].cache, pTop)
	f.targets[0].Substitute, f.targets[1].Substitute = true, true
	out := f.copy()
	if o := out[0]; o.Err != nil || o.FromCache != 1 || !slices.Equal(f.hosts[0].added, []string{pTop}) ||
		o.CacheProblem != SubstUntrusted || !strings.HasPrefix(o.CacheDetail, "ignoring substitute for") {
		t.Errorf("host 0: %+v, added %v; want top sent with the reason", o, f.hosts[0].added)
	}
	if o := out[1]; o.Err != nil || o.FromCache != 2 || o.Bytes != 0 || o.CacheProblem != "" {
		t.Errorf("host 1: %+v; want all from the cache, no problem", o)
	}
}

// TestCopyManyCacheRequired: a host whose cache failed it, when the cache
// is required, fails with Nix's reason and gets nothing from us; a host
// whose cache only lacks paths (Nix said nothing) gets them from us in a
// new session; the others are not held.
func TestCopyManyCacheRequired(t *testing.T) {
	f := newManyFixture(t, 3)
	for i := range f.targets {
		f.targets[i].Substitute, f.targets[i].CacheRequired = true, true
		f.hosts[i].cache[pMid] = f.local.paths[pMid]
	}
	f.hosts[0].substStderr = refused28
	f.targets[2].CacheRequired = false
	f.hosts[2].substStderr = refused28
	out := f.copy()
	var ce *CacheError
	if o := out[0]; !errors.As(o.Err, &ce) || ce.Problem != SubstUnreachable || ce.Missing != 1 || len(f.hosts[0].added) != 0 ||
		o.CacheProblem != SubstUnreachable || !strings.Contains(o.Err.Error(), "Couldn't connect to server (7)") {
		t.Errorf("host 0: %+v (%v), added %v; want a CacheError and nothing sent", o, o.Err, f.hosts[0].added)
	}
	if o := out[1]; o.Err != nil || !slices.Equal(f.hosts[1].added, []string{pTop}) || f.hosts[1].serves != 2 || o.CacheProblem != "" {
		t.Errorf("host 1: %+v, added %v in %d sessions; want top sent in a second session", o, f.hosts[1].added, f.hosts[1].serves)
	}
	if o := out[2]; o.Err != nil || !slices.Equal(f.hosts[2].added, []string{pTop}) || o.CacheProblem != SubstUnreachable {
		t.Errorf("host 2: %+v, added %v; want the fallback, reported", o, f.hosts[2].added)
	}
}

// TestCopyManyCacheGoneMidSession: a host whose Nix ends the session
// because a cache it knew is down falls back to our copy in a new session
// (the cache reported unreachable), or, with the cache required, fails
// with a CacheError; a session ending without a cache problem stays an
// error.
func TestCopyManyCacheGoneMidSession(t *testing.T) {
	f := newManyFixture(t, 3)
	for i, h := range f.hosts {
		h.cache[pMid] = f.local.paths[pMid]
		h.substStderr, h.substFails = "error (ignored): error: unable to download 'http://c/x.narinfo': Couldn't connect to server (7)\n", true
		f.targets[i].Substitute = true
	}
	f.targets[1].CacheRequired = true
	f.hosts[2].substStderr = "error: out of memory\n"
	out := f.copy()
	if o := out[0]; o.Err != nil || !slices.Equal(f.hosts[0].added, []string{pTop}) || o.FromCache != 1 || f.hosts[0].serves != 2 ||
		o.CacheProblem != SubstUnreachable || !strings.HasPrefix(o.CacheDetail, "unable to download 'http://c/x.narinfo'") {
		t.Errorf("host 0: %+v (%v), added %v in %d sessions; want the fallback", o, o.Err, f.hosts[0].added, f.hosts[0].serves)
	}
	var ce *CacheError
	if o := out[1]; !errors.As(o.Err, &ce) || len(f.hosts[1].added) != 0 || f.hosts[1].serves != 1 {
		t.Errorf("host 1: %+v (%v); want a CacheError", o, o.Err)
	}
	if o := out[2]; o.Err == nil || errors.As(o.Err, &ce) || !strings.Contains(o.Err.Error(), "out of memory") || len(f.hosts[2].added) != 0 {
		t.Errorf("host 2: %+v (%v); want the session's failure", o, o.Err)
	}
}
