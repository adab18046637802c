package styles

import (
	"bytes"
	"os"
	"testing"

	"github.com/charmbracelet/colorprofile"

	"nixdeck/internal/ptytest"
)

// Colour only on a terminal, and never with NO_COLOR set to anything but
// the empty string (no-color.org).
func TestProfile(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	if p := Profile(&bytes.Buffer{}); p != colorprofile.NoTTY {
		t.Errorf("a buffer is not a terminal, but Profile gave %v", p)
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if p := Profile(f); p != colorprofile.NoTTY {
		t.Errorf("a regular file is not a terminal, but Profile gave %v", p)
	}
	// A pseudo-terminal stands in for the operator's terminal, so this
	// half runs under CI too, where there is no controlling terminal.
	tty, _ := ptytest.Open(t)
	for _, v := range []string{"1", "0", "false", " "} {
		t.Setenv("NO_COLOR", v)
		if p := Profile(tty); p != colorprofile.NoTTY {
			t.Errorf("NO_COLOR=%q, but Profile gave %v on a terminal", v, p)
		}
	}
	t.Setenv("NO_COLOR", "")
	if p := Profile(tty); p != colorprofile.ANSI {
		t.Errorf("NO_COLOR is empty, but Profile gave %v on a terminal, want ANSI", p)
	}
	os.Unsetenv("NO_COLOR") // t.Setenv restores it when the test ends
	if p := Profile(tty); p != colorprofile.ANSI {
		t.Errorf("NO_COLOR is unset, but Profile gave %v on a terminal, want ANSI", p)
	}
	if For(tty).plain || !For(f).plain {
		t.Error("For does not follow Profile")
	}
}
