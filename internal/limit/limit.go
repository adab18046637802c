// Package limit holds the bounds on what a host may send that both the
// transport (fleet/remote, which enforces them) and nix/ (which picks
// them per command and reports them) need; neither imports the other.
package limit

import "fmt"

// DefaultOutput is how many bytes a remote command may send on stdout and
// stderr together when its caller names no bound: far above what any of
// nixdeck's queries legitimately print (a 10,000-path closure listing is
// about 2 MiB), low enough that a fleet read in parallel stays in memory.
const DefaultOutput = 16 << 20

// Text renders a byte count the way limits are documented: "16 MiB",
// "4 KiB", "100 bytes".
func Text(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
