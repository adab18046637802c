package tail

import (
	"strings"
	"sync"
	"testing"
)

func TestBufferKeepsTheEnd(t *testing.T) {
	b := NewBuffer(5)
	for _, s := range []string{"abc", "defg", "h"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := b.String(); got != "defgh" {
		t.Errorf("String() = %q, want %q", got, "defgh")
	}
}

func TestBufferConcurrentWriters(t *testing.T) {
	b := NewBuffer(10)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				b.Write([]byte("x"))
			}
		}()
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("x", 10) {
		t.Errorf("String() = %q", got)
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\n\n  \nb\n", 5, "a\nb"},
		{"error: builder failed\n\n", 1, "error: builder failed"},
		{"", 3, ""},
	}
	for _, tt := range tests {
		if got := LastLines(tt.in, tt.n); got != tt.want {
			t.Errorf("LastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
