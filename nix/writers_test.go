package nix

import (
	"strings"
	"testing"
)

// A host that never ends its line cannot make LineWriter hold more than
// maxLine: the line comes in maxLine pieces, and the bytes are all there.
func TestLineWriterBoundsALine(t *testing.T) {
	var lines []string
	w := LineWriter(func(l string) { lines = append(lines, l) })
	chunk := strings.Repeat("x", 10000)
	for range 20 {
		w.Write([]byte(chunk))
		if len(w.partial) > maxLine {
			t.Fatalf("holding %d bytes of an unfinished line", len(w.partial))
		}
	}
	w.Write([]byte("y\nshort\n"))
	w.Flush()
	total := 0
	for _, l := range lines[:len(lines)-1] {
		total += len(l)
		if len(l) > maxLine {
			t.Errorf("a line of %d bytes", len(l))
		}
	}
	if total != 200001 || lines[len(lines)-1] != "short" || !strings.HasSuffix(lines[len(lines)-2], "xy") {
		t.Errorf("%d bytes in %d lines, last %q", total, len(lines), lines[len(lines)-1])
	}
}
