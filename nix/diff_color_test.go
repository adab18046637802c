package nix_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/charmbracelet/colorprofile"

	"nixdeck/nix"
	"nixdeck/ui/styles"
)

// The coloured diff is nvd's, escape for escape, with the styles the CLI
// uses on a terminal.
func TestDiffGoldenColor(t *testing.T) {
	old, new := nix.GoldenClosures()
	d := nix.DiffClosures("/nix/var/nix/profiles/system-41-link", "result", old, new)
	var out bytes.Buffer
	if err := d.Render(&out, styles.New(colorprofile.ANSI)); err != nil {
		t.Fatal(err)
	}
	nix.Golden(t, filepath.Join("testdata", "diff", "full-color.golden"), out.Bytes())
}
