package nix

import (
	"context"
	"strings"
	"testing"
)

const testRoot = GCRootDir + "/deploy-1"

func TestCopyMakesGCRoot(t *testing.T) {
	for _, tt := range []struct {
		name    string
		hasAll  bool
		fail    bool
		wantErr string
	}{
		{name: "after the missing paths, before the session ends"},
		{name: "with nothing to send, before the session ends", hasAll: true},
		{name: "a failed root fails the copy", fail: true, wantErr: "make GC root " + testRoot + ": GC root script: exit status 1: /nix/var/nix/gcroots/nixdeck exists and is not a root"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			local, host := testStores(t)
			if tt.hasAll {
				host.add(local.paths[pMid], local.paths[pTop])
			}
			c := host.cmds.expect("sh", "-c", rootScript, "sh", pTop, testRoot).priv()
			if tt.fail {
				c.errout("/nix/var/nix/gcroots/nixdeck exists and is not a root\n").exit(1)
			}
			checked := false
			remote := runnerFunc(func(ctx context.Context, cmd Cmd) error {
				if cmd.Argv[0] == "sh" {
					host.mu.Lock()
					_, has := host.paths[pTop]
					checked = host.serving == 1 && has
					host.mu.Unlock()
				}
				return host.Run(ctx, cmd)
			})
			_, err := Copy(context.Background(), local, remote, CopyRequest{Paths: []string{pTop}, Root: testRoot})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Copy() error = %v, want %q", err, tt.wantErr)
			}
			if !checked {
				t.Error("the root was not made while the session held the closure")
			}
		})
	}
}

func TestGCRootConfined(t *testing.T) {
	for _, root := range []string{"/nix/var/nix/gcroots/nixdeck", GCRootDir + "/", GCRootDir + "/../auto/x", GCRootDir + "/a/b",
		GCRootDir + "/.hidden", "/etc/passwd", "relative/x", GCRootDir + "/x\n"} {
		out := CopyMany(context.Background(), newFakeStore(t), []CopyTarget{{Runner: newFakeStore(t)}}, CopyRequest{Paths: []string{pTop}, Root: root})
		if out[0].Err == nil || !strings.Contains(out[0].Err.Error(), "is not a name in "+GCRootDir) {
			t.Errorf("copy with root %q: %v", root, out[0].Err)
		}
		if err := RemoveRoot(context.Background(), newFakeRunner(t), root); err == nil {
			t.Errorf("RemoveRoot(%q) accepted", root)
		}
	}
	if p, err := GCRootPath("deploy-1"); p != testRoot || err != nil {
		t.Errorf("GCRootPath() = %q, %v", p, err)
	}
	if _, err := GCRootPath("../x"); err == nil {
		t.Error("GCRootPath accepted a bad id")
	}
	f := newFakeRunner(t)
	f.expect("sh", "-c", removeRootScript, "sh", testRoot).priv()
	if err := RemoveRoot(context.Background(), f, testRoot); err != nil {
		t.Error(err)
	}
}
