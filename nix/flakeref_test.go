package nix

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// mkdirs creates each directory (and its parents) under root.
func mkdirs(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLocalFlakeRef(t *testing.T) {
	root := t.TempDir()
	mkdirs(t, root, "plain", "my fleet", "repo/.git", "repo/a b/#c?d%", "shallow/.git", "shallow/sub", "odd#top/.git", "odd#top/fleet", "sh allow?/.git", "sh allow?/sub")
	for _, f := range []string{"wt/.git", "shallow/.git/shallow", "sh allow?/.git/shallow"} {
		mkdirs(t, root, filepath.Dir(f))
		if err := os.WriteFile(filepath.Join(root, f), []byte("gitdir: /elsewhere\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mkdirs(t, root, "wt/fleet")
	old := func() (string, error) { return "2.8.0", nil }
	current := func() (string, error) { return "2.24.9", nil }
	unknown := func() (string, error) { return "", errors.New("exec: \"nix\": not found") }
	cases := []struct {
		dir        string
		nixVersion func() (string, error)
		want       Flake
		wantErr    string
	}{
		{dir: "plain", want: Flake{Ref: "path:" + root + "/plain"}},
		{dir: "repo", want: Flake{Ref: "git+file://" + root + "/repo"}},
		// Escapes in ?dir= are decoded by every Nix: no version needed.
		{dir: "repo/a b/#c?d%", want: Flake{Ref: "git+file://" + root + "/repo?dir=a%20b/%23c%3Fd%25"}},
		{dir: "wt/fleet", want: Flake{Ref: "git+file://" + root + "/wt?dir=fleet"}},
		{dir: "shallow/sub", want: Flake{Ref: "git+file://" + root + "/shallow?dir=sub&shallow=1"}},
		{dir: "my fleet", nixVersion: current, want: Flake{Ref: "path:" + root + "/my%20fleet"}},
		{dir: "odd#top/fleet", nixVersion: current, want: Flake{Ref: "git+file://" + root + "/odd%23top?dir=fleet"}},
		// An older Nix runs in the directory its URL would name.
		{dir: "my fleet", nixVersion: old, want: Flake{Ref: "path:.", Dir: root + "/my fleet"}},
		{dir: "odd#top", nixVersion: old, want: Flake{Ref: "git+file:.", Dir: root + "/odd#top"}},
		{dir: "odd#top/fleet", nixVersion: old, want: Flake{Ref: "git+file:.?dir=fleet", Dir: root + "/odd#top"}},
		{dir: "sh allow?/sub", nixVersion: old, want: Flake{Ref: "git+file:.?dir=sub&shallow=1", Dir: root + "/sh allow?"}},
		{dir: "my fleet", nixVersion: unknown,
			wantErr: "flake " + root + "/my fleet: its path needs %-escapes in a flake URL, which only Nix 2.19 and later decode, and the local Nix version is unknown: exec: \"nix\": not found"},
	}
	for _, c := range cases {
		asked := false
		version := func() (string, error) {
			asked = true
			if c.nixVersion == nil {
				t.Errorf("%s: the Nix version was asked for a path without escapes", c.dir)
				return "", errors.New("not asked")
			}
			return c.nixVersion()
		}
		got, err := localFlakeRef(filepath.Join(root, c.dir), version)
		switch {
		case c.wantErr != "" && (err == nil || err.Error() != c.wantErr):
			t.Errorf("%s: err = %v\nwant %s", c.dir, err, c.wantErr)
		case c.wantErr == "" && (err != nil || got != c.want):
			t.Errorf("%s: FlakeRef = %+v, %v; want %+v", c.dir, got, err, c.want)
		case c.nixVersion != nil && !asked:
			t.Errorf("%s: the Nix version was not asked", c.dir)
		}
	}
}

func TestFlakeRefKeepsReferences(t *testing.T) {
	for _, ref := range []string{"github:org/fleet", "git+https://example.com/fleet?ref=main", "./relative"} {
		if got, err := FlakeRef(ref); got != (Flake{Ref: ref}) || err != nil {
			t.Errorf("FlakeRef(%q) = %+v, %v; want it as written", ref, got, err)
		}
	}
}

func TestFlakeString(t *testing.T) {
	for _, c := range []struct {
		f    Flake
		want string
	}{
		{Flake{Ref: "git+file:///srv/infra?dir=fleet"}, "git+file:///srv/infra?dir=fleet"},
		{Flake{Ref: "path:.", Dir: "/srv/my fleet"}, "path:. (in /srv/my fleet)"},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestNixVersion(t *testing.T) {
	for _, c := range []struct {
		out, version string
		decodes      bool
	}{
		{"nix (Nix) 2.8.0\n", "2.8.0", false},
		{"nix (Nix) 2.18.9\n", "2.18.9", false},
		{"nix (Nix) 2.19.0pre20230915_abcdef\n", "2.19.0pre20230915_abcdef", true},
		{"nix (Nix) 2.24.9\n", "2.24.9", true},
		{"nix (Nix) 2.26.3\n", "2.26.3", true}, // Debian 13's, the lab's current-Nix hosts'
		{"nix (Lix, like Nix) 2.91.1\nSystem type: x86_64-linux\n", "2.91.1", true},
		{"nix (Determinate Nix 3.6.2) 2.29.0\n", "2.29.0", true},
		{"nix (Nix) 3.0\n", "3.0", true},
	} {
		v, err := ParseNixVersion(c.out)
		if v != c.version || err != nil || decodesURLPaths(v) != c.decodes {
			t.Errorf("%q: version %q, %v, decodes %v; want %q, %v", c.out, v, err, decodesURLPaths(v), c.version, c.decodes)
		}
	}
	if v, err := ParseNixVersion("command not found\n"); err == nil {
		t.Errorf("garbage: version %q, want an error", v)
	}
	if decodesURLPaths("x.y") {
		t.Error(`decodesURLPaths("x.y") = true`)
	}
}

func TestEscapeURL(t *testing.T) {
	if got := escapeURLPath("/srv/a b/#?%/é/k=v+w@h:1"); got != "/srv/a%20b/%23%3F%25/%C3%A9/k=v+w@h:1" {
		t.Errorf("escapeURLPath = %q", got)
	}
	if got := escapeURLQuery("a b/k=v&x+y"); got != "a%20b/k%3Dv%26x%2By" {
		t.Errorf("escapeURLQuery = %q", got)
	}
}
