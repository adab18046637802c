package cells

import "testing"

func TestFitCut(t *testing.T) {
	tests := []struct {
		in       string
		w        int
		fit, cut string
	}{
		{"abc", 5, "abc  ", "abc"},
		{"abcdef", 4, "abc…", "abc…"},
		{"日本語", 4, "日… ", "日…"},
		{"\x1b[31mred text\x1b[m", 4, "\x1b[31mred…\x1b[m", "\x1b[31mred…\x1b[m"},
		{"abc", 0, "", ""},
		{"", 2, "  ", ""},
	}
	for _, tt := range tests {
		if got := Fit(tt.in, tt.w); got != tt.fit {
			t.Errorf("Fit(%q, %d) = %q, want %q", tt.in, tt.w, got, tt.fit)
		}
		if got := Cut(tt.in, tt.w); got != tt.cut {
			t.Errorf("Cut(%q, %d) = %q, want %q", tt.in, tt.w, got, tt.cut)
		}
	}
}

func TestExpandTabs(t *testing.T) {
	tests := map[string]string{
		"no tabs":              "no tabs",
		"\tx":                  "        x",
		"ab\tc\td":             "ab      c       d",
		"+\tx":                 "+       x",
		"日\tx":                 "日      x",
		"\x1b[32m+\tnew\x1b[m": "\x1b[32m+       new\x1b[m",
		"12345678\tx":          "12345678        x",
	}
	for in, want := range tests {
		if got := ExpandTabs(in); got != want {
			t.Errorf("ExpandTabs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLines(t *testing.T) {
	got := Lines("ab\nlonger line\nc\nd", 4, 3)
	if want := "ab  \nlon…\nc   "; got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
	if got := Lines("", 2, 2); got != "  \n  " {
		t.Errorf("Lines of nothing = %q", got)
	}
}
