package nix

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// Two releases of webSystem that share their kernel and bash.
const (
	webSystem2 = "/nix/store/9ak5vwq4y3zgzmlxm3jm8d1s0d7ap1rz-nixos-system-web1-24.05.20240902.abc"
	webSW2     = "/nix/store/2p3x0qcd9yd8b3vbm1hrkyv0z6d1gmqh-system-path"
	webCurl    = "/nix/store/3q1p4lzm2n8x2xk6xqf0pj1c9i4l0w7s-curl-8.9.1"
)

func twoReleases() map[string]servedInfo {
	store := webStore()
	store[webSystem2] = servedInfo{refs: []string{webKernel, webSW2}, narSize: 14000}
	store[webSW2] = servedInfo{refs: []string{webBash, webCurl, webSW2}, narSize: 53000}
	store[webCurl] = servedInfo{refs: []string{webBash}, narSize: 400000}
	return store
}

// TestCLIClosures walks two closures at once through nix-store --serve:
// one process, each path asked about once, each closure with its own
// paths, references and sw references (self-references kept).
func TestCLIClosures(t *testing.T) {
	f := &fakeServe{t: t, store: twoReleases()}
	cs, err := cliClosures(context.Background(), f, []cliRoot{{webSystem, webSW}, {webSystem2, webSW2}})
	if err != nil {
		t.Fatal(err)
	}
	if f.runs.Load() != 1 || f.closureQueries.Load() != 0 {
		t.Errorf("%d processes, %d closure requests; want 1 and none", f.runs.Load(), f.closureQueries.Load())
	}
	asked := slices.Sorted(slices.Values(f.asked))
	if want := []string{webBash, webKernel, webSW2, webCurl, webSW, webSystem, webSystem2}; !slices.Equal(asked, slices.Sorted(slices.Values(want))) {
		t.Errorf("asked about %v, want each of the 7 paths once", asked)
	}
	if got := sortedKeys(cs[0].Paths); !slices.Equal(got, slices.Sorted(slices.Values([]string{webBash, webKernel, webSW, webSystem}))) {
		t.Errorf("first closure %v", got)
	}
	if got := sortedKeys(cs[1].Paths); len(got) != 5 || cs[1].Paths[webCurl] != 400000 || slices.Contains(got, webSW) {
		t.Errorf("second closure %v", cs[1].Paths)
	}
	if !slices.Contains(cs[0].Refs, webSystem) || !slices.Equal(cs[1].SWRefs, []string{webBash, webCurl, webSW2}) || cs[1].SW != webSW2 {
		t.Errorf("refs %v, sw refs %v", cs[0].Refs, cs[1].SWRefs)
	}
}

// TestCLIClosuresFailing: a path the store does not know, nix-store
// failing and a broken reply all end in an error.
func TestCLIClosuresFailing(t *testing.T) {
	missing := "/nix/store/4zz6w8wqz7c8k7s0p7a7yqv0j5w0x6g1-gone"
	store := twoReleases()
	store[webSW2] = servedInfo{refs: []string{webBash, missing}}
	// describe writes what the fake would, then what extra adds.
	describe := func(extra func(w *serveWriter)) func(*serveWriter, []string) {
		return func(w *serveWriter, paths []string) {
			for _, p := range paths {
				info := twoReleases()[p]
				w.str(p)
				w.str("")
				w.strs(info.refs)
				w.num(uint64(info.narSize))
				w.num(uint64(info.narSize))
			}
			extra(w)
			w.str("")
		}
	}
	for _, tt := range []struct {
		name string
		f    *fakeServe
		err  string
	}{
		{"unknown path", &fakeServe{store: store}, "nothing known about " + missing},
		{"nix-store fails", &fakeServe{store: twoReleases(), raw: []byte{}, err: &ExitError{Code: 1, Stderr: "error: cannot open connection to remote store 'daemon'"}}, "cannot open connection"},
		{"broken reply", &fakeServe{store: twoReleases(), infoReply: func(w *serveWriter, _ []string) { w.str("/etc/passwd") }}, "not asked for"},
		// webKernel is named (by webSystem) in the first reply, not asked about.
		{"described unasked", &fakeServe{store: twoReleases(), infoReply: describe(func(w *serveWriter) {
			w.str(webKernel)
			w.str("")
			w.strs(nil)
			w.num(1)
			w.num(1)
		})}, "information about \"" + webKernel + "\", which was not asked for or came twice"},
		{"described twice", &fakeServe{store: twoReleases(), infoReply: describe(func(w *serveWriter) {
			w.str(webSystem)
		})}, "information about \"" + webSystem + "\", which was not asked for or came twice"},
		{"endless references", &fakeServe{store: twoReleases(), infoReply: func(w *serveWriter, paths []string) {
			w.str(paths[0])
			w.str("")
			w.num(1 << 40)
		}}, "1099511627776 references of " + webSystem},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.t = t
			_, err := cliClosures(context.Background(), tt.f, []cliRoot{{webSystem, webSW}, {webSystem2, webSW2}})
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

// TestCLIClosuresCancelled: a walk whose context ends stops its processes
// and says so.
func TestCLIClosuresCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeServe{t: t, store: twoReleases(), stuck: make(chan struct{})}
	go func() {
		<-f.stuck
		cancel()
	}()
	_, err := cliClosures(ctx, f, []cliRoot{{webSystem, webSW}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestIsStoreObject: only a store object itself passes, never a path in
// one, the store directory, its parent or a look-alike.
func TestIsStoreObject(t *testing.T) {
	for p, want := range map[string]bool{
		webBash:                    true,
		"/nix/store/x":             true,
		webBash + "/bin/bash":      false,
		webBash + "/":              false,
		"/nix/store/":              false,
		"/nix/store":               false,
		"/nix/store/.":             false,
		"/nix/store/..":            false,
		"/nix/store/../etc/passwd": false,
		"/nix/storex/abc":          false,
		"nix/store/abc":            false,
		"/etc/passwd":              false,
		"":                         false,
	} {
		if got := isStoreObject(p); got != want {
			t.Errorf("isStoreObject(%q) = %v, want %v", p, got, want)
		}
	}
}
