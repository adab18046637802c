package styles

import (
	"io"
	"os"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/term"
)

// Profile is the colour policy of the headless commands for output
// written to w: colorprofile.ANSI (the 16 colours Styles uses) when w is
// a terminal and NO_COLOR is unset or empty, colorprofile.NoTTY (no
// escape sequences at all) otherwise. NO_COLOR follows no-color.org:
// "when present and not an empty string", whatever the value, "0"
// included. colorprofile.Detect is not used: it reads NO_COLOR as a
// boolean, so NO_COLOR=yes would leave the colours on.
func Profile(w io.Writer) colorprofile.Profile {
	if os.Getenv("NO_COLOR") != "" {
		return colorprofile.NoTTY
	}
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(f.Fd()) {
		return colorprofile.NoTTY
	}
	return colorprofile.ANSI
}

// For returns the styles for output written to w under Profile's policy.
func For(w io.Writer) *Styles { return New(Profile(w)) }
