package nix

import (
	"context"
	"fmt"
	"strings"

	tailpkg "nixdeck/internal/tail"
)

// maxRemoteBuildOutput bounds a build's output on the host: its log is
// streamed line by line, not kept, so only a runaway build reaches it.
const maxRemoteBuildOutput = 1 << 30

// BuildOnTarget realises a system on the host that will run it (build_on:
// target, like deploy-rs' remote build): the derivation's closure (the
// .drv files and sources, `nix-store -qR DRV`) is copied over remote's
// connection, then `nix-store --realise DRV` runs there, so the outputs
// never cross the operator's link. It returns the system's store path on
// the host; log receives the remote build output. Get drv from Instantiate.
func BuildOnTarget(ctx context.Context, local, remote Runner, drv string, log func(string)) (string, error) {
	if !strings.HasSuffix(drv, ".drv") {
		return "", fmt.Errorf("build on target: %q is not a derivation", drv)
	}
	if _, err := Copy(ctx, local, remote, CopyRequest{Paths: []string{drv}}); err != nil {
		return "", fmt.Errorf("build on target: copy %s: %w", drv, err)
	}
	// The output path is all stdout should say; only its end is kept.
	out := tailpkg.NewBuffer(4096)
	tail := &lineTail{max: 25}
	lines := LineWriter(func(l string) {
		tail.add(l)
		if log != nil {
			log(l)
		}
	})
	err := remote.Run(ctx, Cmd{Argv: []string{"nix-store", "--realise", drv}, Stdout: out, Stderr: lines, Privileged: true,
		MaxOutput: maxRemoteBuildOutput})
	lines.Flush()
	if err != nil {
		return "", fmt.Errorf("build on target: realise %s: %w\n%s", drv, err, tail.String())
	}
	paths := strings.Fields(out.String())
	if len(paths) != 1 || checkStoreObject(paths[0]) != nil {
		return "", fmt.Errorf("build on target: realise %s printed %s, want one store path", drv, excerpt(out.String()))
	}
	return paths[0], nil
}
