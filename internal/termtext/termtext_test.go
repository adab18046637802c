package termtext

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestVisible(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "nixos-system-web1-24.05.20240701.89abcde", "nixos-system-web1-24.05.20240701.89abcde"},
		{"utf8", "café 日本語 🙂", "café 日本語 🙂"},
		{"empty", "", ""},
		{"clear screen", "24.05\x1b[2J\x1b[H", `24.05\x1b[2J\x1b[H`},
		{"OSC 52 clipboard", "\x1b]52;c;cm0gLXJmIH4=\x07", `\x1b]52;c;cm0gLXJmIH4=\x07`},
		{"OSC 52 with ST", "\x1b]52;c;eA==\x1b\\", `\x1b]52;c;eA==\x1b\`},
		{"CR overwrite", "ok\rFAIL", `ok\x0dFAIL`},
		{"newline and tab", "a\nb\tc", `a\x0ab\x09c`},
		{"NUL and DEL", "a\x00b\x7f", `a\x00b\x7f`},
		{"C1 CSI", "x\u009b2J", `x\u009b2J`},
		{"C1 NEL", "a\u0085b", `a\u0085b`},
		{"bidi override", "root\u202eflesym", `root\u202eflesym`},
		{"bidi isolates", "\u2066a\u2069", `\u2066a\u2069`},
		{"zero width space", "ad\u200bmin", `ad\u200bmin`},
		{"BOM", "\ufeffkey=1", `\ufeffkey=1`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"tag character", "a\U000e0041", `a\U000e0041`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
		{"truncated rune", "\xe6\x97", `\xe6\x97`},
		// Backslashes read as they are unless an escape could be read into them.
		{"shell backslashes", `printf '\n' \u@\h \d \\ \`, `printf '\n' \u@\h \d \\ \`},
		{"literal escape text", `\x1b[0m`, `\x5cx1b[0m`},
		{"literal unicode escape", `\u202e \U0001F600`, `\x5cu202e \x5cU0001F600`},
		{"backslash before escape", "\\\x1b", `\\x1b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Visible(tt.in)
			if got != tt.want {
				t.Errorf("Visible(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.ContainsAny(got, "\x1b\r\n\t\x07") || !utf8.ValidString(got) {
				t.Errorf("Visible(%q) = %q still has controls or bad UTF-8", tt.in, got)
			}
			if back := unescape(got); back != tt.in {
				t.Errorf("Visible(%q) = %q decodes to %q", tt.in, got, back)
			}
		})
	}
}

func TestVisibleLines(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\n\tb\n", "a\n\tb\n"},
		{"ok\rFAIL\n", "ok\\x0dFAIL\n"},
		{"line\r\n", "line\\x0d\n"},
		{"+PS1='\x1b[1;32m\\u@\\h'\n", "+PS1='\\x1b[1;32m\\u@\\h'\n"},
		{"sh: 1: \u202egnp.exe\n", "sh: 1: \\u202egnp.exe\n"},
	}
	for _, tt := range tests {
		if got := VisibleLines(tt.in); got != tt.want {
			t.Errorf("VisibleLines(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if back := unescape(VisibleLines(tt.in)); back != tt.in {
			t.Errorf("VisibleLines(%q) decodes to %q", tt.in, back)
		}
	}
}

// Plain text is the common case and must cost nothing.
func TestVisiblePlainDoesNotAllocate(t *testing.T) {
	for _, s := range []string{"nixos-system-web1-24.05.20240701.89abcde", "日本語 🙂 café", `a\b\n`} {
		if n := testing.AllocsPerRun(100, func() { _ = Visible(s) }); n != 0 {
			t.Errorf("Visible(%q): %v allocations", s, n)
		}
		lines := s + "\n\t" + s + "\n"
		if n := testing.AllocsPerRun(100, func() { _ = VisibleLines(lines) }); n != 0 {
			t.Errorf("VisibleLines(%q): %v allocations", lines, n)
		}
	}
}

// Every input, whatever its bytes, decodes back from its escaped form and
// leaves nothing a terminal would act on.
func FuzzVisible(f *testing.F) {
	for _, s := range []string{"ok\rFAIL", "\x1b]52;c;eA==\x07", `\x41`, "\\\xff", "\u202e", "a\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Visible(s)
		if back := unescape(got); back != s {
			t.Fatalf("Visible(%q) = %q decodes to %q", s, got, back)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Visible(%q) = %q is not UTF-8", s, got)
		}
		for _, r := range got {
			if r < 0x20 || hidden(r) {
				t.Fatalf("Visible(%q) = %q keeps %U", s, got, r)
			}
		}
	})
}

func TestJSON(t *testing.T) {
	in := "v\x1b[2J\x7f\u009b\u202e\U000e0041 café \\"
	raw, err := json.Marshal(map[string]string{"version": in})
	if err != nil {
		t.Fatal(err)
	}
	got := JSON(raw)
	want := `{"version":"v\u001b[2J\u007f\u009b\u202e\udb40\udc41 café \\"}`
	if string(got) != want {
		t.Errorf("JSON() = %s, want %s", got, want)
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil || back["version"] != in {
		t.Errorf("decoded %q (%v), want %q", back["version"], err, in)
	}
	plain := []byte(`{"a":"café"}`)
	if out := JSON(plain); &out[0] != &plain[0] {
		t.Error("JSON copied text with nothing to escape")
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	err := WriteTable(&b, [][]string{
		{"HOST", "VERSION", "LOCK"},
		{"web1", "24.05\x1b[2J", "free"},
		{"日本", "1.0", "held by \u202eroot"},
		{"db1", "error: dial\r\nrefused, and a long message that does not widen VERSION"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `HOST  VERSION       LOCK
web1  24.05\x1b[2J  free
日本  1.0           held by \u202eroot
db1   error: dial\x0d\x0arefused, and a long message that does not widen VERSION
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

// unescape inverts Visible: the test's proof that no two inputs print alike.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '\\' || !readsAsEscape(s[i+1:]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i+1]]
		var v rune
		for _, c := range []byte(s[i+2 : i+2+digits]) {
			v = v<<4 | rune(strings.IndexByte("0123456789abcdef", c|0x20))
		}
		if digits == 2 {
			b.WriteByte(byte(v))
		} else {
			b.WriteRune(v)
		}
		i += 2 + digits
	}
	return b.String()
}

func BenchmarkVisible(b *testing.B) {
	plain := "nixos-system-web1-24.05.20240701.89abcde (Uakari) held by deploy@ops"
	hostile := "24.05\x1b]52;c;cm0gLXJmIH4=\x07 \u202eroot\r"
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Visible(plain)
		}
	})
	b.Run("hostile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Visible(hostile)
		}
	})
}
