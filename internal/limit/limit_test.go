package limit

import "testing"

func TestText(t *testing.T) {
	for n, want := range map[int64]string{16 << 20: "16 MiB", 1 << 20: "1 MiB", 4096: "4 KiB", 1536 << 10: "1536 KiB", 100: "100 bytes", 1<<20 + 1: "1048577 bytes"} {
		if got := Text(n); got != want {
			t.Errorf("Text(%d) = %q, want %q", n, got, want)
		}
	}
}
