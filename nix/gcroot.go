package nix

import (
	"context"
	"fmt"
	"path"
)

// Between the copy and the profile, nothing on the host refers to the new
// closure: a garbage collection there (nix-collect-garbage from a timer,
// another operator) would delete it. While the copy's
// `nix-store --serve --write` runs, it holds the closure with temporary
// roots (every path it was asked about, every path it added); the serve
// protocol has no request for a lasting root. So the copy makes one with a
// second command on the same connection, run while that session is still
// open: `nix-store --realise PATH --add-root GCRootDir/<op>`, which
// registers the path with a collector running at that moment too. From
// then on the symlink holds the closure; RemoveRoot drops it once the
// profile does. (Nix also leaves an indirect root in gcroots/auto pointing
// at the symlink; its next collection removes that one once the symlink
// is gone.)

// GCRootDir holds the garbage collector roots nixdeck makes on hosts, one
// symlink per operation.
const GCRootDir = gcRootsDir + "/nixdeck"

// gcRootsDir is Nix's directory of garbage collector roots.
const gcRootsDir = "/nix/var/nix/gcroots"

// GCRootPath is the root for operation opID: GCRootDir/<opID>.
func GCRootPath(opID string) (string, error) {
	if !validOpID(opID) {
		return "", fmt.Errorf("bad operation id %s for a GC root", excerpt(opID))
	}
	return GCRootDir + "/" + opID, nil
}

// checkRoot accepts only a root directly in GCRootDir with an operation
// id's name: the root and RemoveRoot run as root on the host, and must
// not reach anything else.
func checkRoot(root string) error {
	dir, name := path.Split(root)
	if dir != GCRootDir+"/" || !validOpID(name) {
		return fmt.Errorf("GC root %s is not a name in %s", excerpt(root), GCRootDir)
	}
	return nil
}

// rootScript makes $2 a GC root of $1. It goes through no symlink to the
// root's directory (a host's, made by someone else), and replaces only a
// symlink, never a file someone put there.
const rootScript = `set -u
p=$1 root=$2 dir=${2%/*}
for x in ` + gcRootsDir + ` "$dir"; do
  if [ -L "$x" ]; then echo "$x is a symbolic link; no root is made through it" >&2; exit 1; fi
done
mkdir -p -m 0755 "$dir" || exit 1
if [ -e "$root" ] && [ ! -L "$root" ]; then echo "$root exists and is not a root" >&2; exit 1; fi
exec nix-store --realise "$p" --add-root "$root"
`

// removeRootScript removes the root $1 if it is a symlink (gone already
// is fine: a removal may be retried).
const removeRootScript = `r=$1
if [ -L "$r" ]; then exec rm -f -- "$r"; fi
if [ -e "$r" ]; then echo "$r is not a symbolic link; left alone" >&2; exit 1; fi
`

// makeRoot makes root a GC root of p on r (privileged: the gcroots
// directory is root's).
func makeRoot(ctx context.Context, r Runner, root, p string) error {
	c := Cmd{Argv: []string{"sh", "-c", rootScript, "sh", p, root}, Privileged: true}
	if err := r.Run(ctx, c); err != nil {
		return fmt.Errorf("make GC root %s: %w", root, scriptError{"GC root", c.Argv, err})
	}
	return nil
}

// RemoveRoot removes a GC root the copy made (CopyRequest.Root), once the
// system profile holds the closure or the operation gave up on it. A root
// that is gone already is not an error.
func RemoveRoot(ctx context.Context, r Runner, root string) error {
	if err := checkRoot(root); err != nil {
		return err
	}
	c := Cmd{Argv: []string{"sh", "-c", removeRootScript, "sh", root}, Privileged: true}
	if err := r.Run(ctx, c); err != nil {
		return fmt.Errorf("remove GC root %s: %w", root, scriptError{"GC root removal", c.Argv, err})
	}
	return nil
}
