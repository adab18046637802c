package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Flake is a flake as nixdeck hands it to Nix: a reference, and the
// local directory Nix must run in when the reference is relative to it.
type Flake struct {
	// Ref is the flake reference ("git+file:///srv/infra?dir=fleet").
	Ref string
	// Dir, when set, is the directory Nix runs in (Cmd.Dir,
	// BuildRequest.WorkDir): Ref is then "path:." or "git+file:." and
	// its query, because the local Nix cannot read the directory's
	// absolute URL.
	Dir string
}

// String is the reference, with the directory Nix runs in if any, for
// messages.
func (f Flake) String() string {
	if f.Dir == "" {
		return f.Ref
	}
	return f.Ref + " (in " + f.Dir + ")"
}

// FlakeRef is the flake nixdeck hands to Nix for the fleet's flake. A
// reference with a scheme ("github:org/fleet") is returned as written. An
// absolute directory is resolved as Nix resolves a bare path (Nix 2.8
// flakeref.cc): when the directory or one of its parents holds .git, the
// reference is that checkout's top-level with the directory as ?dir=
// (git+file:///srv/infra?dir=fleet), so Nix copies only the files git
// tracks into the world-readable store (a dirty tree still builds, with
// Nix's warning); otherwise it is path:DIR, which copies the whole
// directory. Callers never prefix "path:" themselves: that copied
// untracked files, secrets and all of .git into the store on every build.
//
// The path is %-escaped as RFC 3986 wants. Nix before 2.19 does not decode
// escapes in a URL's path (NixOS/nix#6614): it cannot name such a
// directory at all, and for git+file it would build the last commit
// instead of the working tree. So when the path needs escapes, FlakeRef
// asks the local `nix --version`, and for an older Nix it returns the
// reference relative to the directory Nix is to run in: path:. in the
// directory, git+file:.?dir=… in the checkout's top-level. Nix 2.8 reads
// those as it reads the absolute ones (tracked files only, the working
// tree, lock files written in place). Escapes in ?dir= are decoded by
// every version.
func FlakeRef(flake string) (Flake, error) {
	if !filepath.IsAbs(flake) {
		return Flake{Ref: flake}, nil
	}
	return localFlakeRef(filepath.Clean(flake), localNixVersion)
}

// localFlakeRef resolves the absolute directory dir; nixVersion is asked
// only when the path needs escapes.
func localFlakeRef(dir string, nixVersion func() (string, error)) (Flake, error) {
	top, err := gitTop(dir)
	if err != nil {
		return Flake{}, fmt.Errorf("flake %s: %w", dir, err)
	}
	// root is the directory the URL's path names: Nix copies it.
	scheme, root, authority := "path:", dir, ""
	var query []string
	if top != "" {
		scheme, root, authority = "git+file:", top, "//"
		if sub, _ := filepath.Rel(top, dir); sub != "." {
			query = append(query, "dir="+escapeURLQuery(sub))
		}
		if _, err := os.Lstat(filepath.Join(top, ".git", "shallow")); err == nil {
			query = append(query, "shallow=1") // as Nix adds for a bare path
		}
	}
	ref := func(path string) string {
		if len(query) == 0 {
			return scheme + path
		}
		return scheme + path + "?" + strings.Join(query, "&")
	}
	if escapeURLPath(root) == root {
		return Flake{Ref: ref(authority + root)}, nil
	}
	version, err := nixVersion()
	if err != nil {
		return Flake{}, fmt.Errorf("flake %s: its path needs %%-escapes in a flake URL, which only Nix 2.19 and later decode, and the local Nix version is unknown: %w", dir, err)
	}
	if !decodesURLPaths(version) {
		// Nix 2.8 takes "." relative to its working directory; the git
		// fetcher wants that to be the top-level (it runs git there with
		// --git-dir=.git).
		return Flake{Ref: ref("."), Dir: root}, nil
	}
	return Flake{Ref: ref(authority + escapeURLPath(root))}, nil
}

// gitTop is the directory at or above dir that holds .git (a directory,
// or a file in worktrees and submodules), "" when there is none. Like Nix
// it stops below "/" and does not resolve symlinks; an error other than
// "does not exist" stops the walk, as it makes Nix fail.
func gitTop(dir string) (string, error) {
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		_, err := os.Lstat(filepath.Join(d, ".git"))
		switch {
		case err == nil:
			return d, nil
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		default:
			return "", err
		}
	}
	return "", nil
}

// escapeURLPath %-escapes every byte of p that is not an RFC 3986 path
// character (unreserved, sub-delims, ':', '@', '/'); those are exactly
// what Nix 2.8's URL grammar takes as written.
func escapeURLPath(p string) string { return escapeExcept(p, "!$&'()*+,;=:@/") }

// escapeURLQuery %-escapes a query value: everything but unreserved
// characters and '/', so that '&', '=', '#' and '+' keep no meaning.
func escapeURLQuery(v string) string { return escapeExcept(v, "/") }

func escapeExcept(s, keep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~"+keep, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// localNixVersion is the version `nix --version` prints, asked once.
var localNixVersion = sync.OnceValues(func() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := (LocalRunner{}).Run(ctx, Cmd{Argv: []string{"nix", "--version"}, Stdout: &out}); err != nil {
		return "", err
	}
	return ParseNixVersion(out.String())
})

// ParseNixVersion takes the version from `nix --version` output:
// "nix (Nix) 2.8.0" and "nix (Lix, like Nix) 2.91.1" end with it. The lab
// reads its hosts' versions with it too.
func ParseNixVersion(out string) (string, error) {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	f := strings.Fields(line)
	if len(f) == 0 || !strings.Contains(f[len(f)-1], ".") {
		return "", fmt.Errorf("nix --version printed %q", line)
	}
	return f[len(f)-1], nil
}

// decodesURLPaths reports whether a Nix of this version %-decodes the
// path of a flake URL: 2.19 and later (and Lix, 2.90 on, which has the
// change too).
func decodesURLPaths(version string) bool {
	major, rest, _ := strings.Cut(version, ".")
	ma, err := strconv.Atoi(major)
	if err != nil {
		return false
	}
	// The minor version may run on into a suffix ("19pre20230915").
	n := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if n < 0 {
		n = len(rest)
	}
	mi, err := strconv.Atoi(rest[:n])
	return err == nil && (ma > 2 || ma == 2 && mi >= 19)
}
