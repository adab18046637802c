package rolloutview

import (
	"strings"
	"time"

	"nixdeck/nix"
)

// elapsed renders a duration to a tenth of a second under a minute
// ("12.3s"), to the second above ("2m3s").
func elapsed(d time.Duration) string {
	if d < time.Minute {
		return max(d, 0).Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// size renders a byte count as nix does its deltas, without the sign:
// "48.1MiB".
func size(n int64) string { return strings.TrimPrefix(nix.FormatSizeDelta(n), "+") }

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
