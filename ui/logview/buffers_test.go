package logview

import (
	"fmt"
	"strings"
	"testing"
)

// lines returns host's kept lines, oldest first.
func lines(b *Buffers, host string) []string {
	r, first, end := b.span(host)
	var out []string
	for i := first; i < end; i++ {
		out = append(out, r.at(i))
	}
	return out
}

// Text becomes lines as a terminal can show them: split at newlines, CR
// ends dropped, tabs expanded, a host's escape sequences shown and not
// obeyed, an overlong line cut with a note.
func TestAppendCleans(t *testing.T) {
	b := NewBuffers(0)
	if b.Capacity() != DefaultCapacity {
		t.Errorf("capacity %d, want the default %d", b.Capacity(), DefaultCapacity)
	}
	b.Append("web01", "one\r\ntwo\tcolumns\n\x1b[2Jclear\u009bscreen\u202ereversed")
	b.Append("web01", strings.Repeat("é", MaxLineBytes)) // 2 bytes each: cut on a character
	want := []string{"one", "two     columns", `\x1b[2Jclear\u009bscreen\u202ereversed`,
		strings.Repeat("é", MaxLineBytes/2) + fmt.Sprintf(" … (%d more bytes not kept)", MaxLineBytes)}
	got := lines(b, "web01")
	if len(got) != len(want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
	if b.Len("web01") != 4 || b.Len("db01") != 0 || b.Dropped("db01") != 0 {
		t.Errorf("Len %d/%d, Dropped %d", b.Len("web01"), b.Len("db01"), b.Dropped("db01"))
	}
}

// A ring keeps the newest capacity lines of each host, apart from the
// other hosts', and counts the ones it let go.
func TestRingWraps(t *testing.T) {
	b := NewBuffers(100)
	for i := range 250 {
		b.Append("a", fmt.Sprint("a", i))
		if i%10 == 0 {
			b.Append("b", fmt.Sprint("b", i))
		}
	}
	got := lines(b, "a")
	if len(got) != 100 || got[0] != "a150" || got[99] != "a249" || b.Dropped("a") != 150 {
		t.Errorf("a kept %d lines, %q … %q, dropped %d", len(got), got[0], got[len(got)-1], b.Dropped("a"))
	}
	if got := lines(b, "b"); len(got) != 25 || got[0] != "b0" || b.Dropped("b") != 0 {
		t.Errorf("b kept %q", got)
	}
	b.Clear("a")
	if b.Len("a") != 0 || b.Len("b") != 25 {
		t.Errorf("after Clear(a): %d and %d lines", b.Len("a"), b.Len("b"))
	}
}

// Long lines spend the host's byte budget: it keeps fewer of them, never
// more than capacity*bytesPerLine bytes of text.
func TestRingByteBudget(t *testing.T) {
	b := NewBuffers(100)
	long := strings.Repeat("x", MaxLineBytes)
	for range 1000 {
		b.Append("h", long)
	}
	r := b.rings["h"]
	if r.bytes > 100*bytesPerLine || r.n != 100*bytesPerLine/MaxLineBytes {
		t.Errorf("%d lines, %d bytes kept; budget %d bytes", r.n, r.bytes, 100*bytesPerLine)
	}
	b.Append("h", "short")
	if got := lines(b, "h"); got[len(got)-1] != "short" || r.bytes > 100*bytesPerLine {
		t.Errorf("after a short line: %d bytes, last %q", r.bytes, got[len(got)-1])
	}
}
