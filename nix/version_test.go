package nix

import "testing"

func TestSplitName(t *testing.T) {
	tests := []struct {
		path, name, version string
	}{
		{"/nix/store/0c7jr8vbdh5xqzpa8jxzf6i7bmrhwkxr-linux-6.6.58-modules", "linux", "6.6.58-modules"},
		{"/nix/store/1ix2ywfq2mjhadgl6hmyzfkj4ccxwkb6-python3.11-requests-2.31.0", "python3.11-requests", "2.31.0"},
		{"/nix/store/2ifl6wz3j2w8v1a9y1hn6zbd3wnn1mz3-unit-nginx.service", "unit-nginx.service", ""},
		{"/nix/store/3m3w0gq5b0h8ha2hsm7mcpbkz6m4bqps-etc-os-release", "etc-os-release", ""},
		{"/nix/store/4x8r5k6xkcyc6ib3sqb2ggjc5v6zvxmb-tzdata-2024a", "tzdata", "2024a"},
		{"/nix/store/5b3jlk2a2wbiy8wdc4ypqgmv5x7jn3fc-bash-5.2p32", "bash", "5.2p32"},
		{"/nix/store/6rl4a7rkbmqw6mfp8a3a7zsx5wlwlsh5-ncurses-6.4.20221231", "ncurses", "6.4.20221231"},
		{"/nix/store/7a9v4wqkz0df5cbgdlsz3bjjyw7d8k5n-OVMF-202402-fd", "OVMF", "202402-fd"},
		{"/nix/store/8s1yfg9w2dj1mm8r5qd01bmw5fh7khqm-util-linux-2.39.4-bin", "util-linux", "2.39.4-bin"},
		{"/nix/store/9p2yyx6bdbfqfkv4r8fpcrc3gg0v2qll-hello-2.12.1.drv", "hello", "2.12.1"},
		{"/nix/store/9p2yyx6bdbfqfkv4r8fpcrc3gg0v2qll-builder.sh.drv", "builder.sh", ""},
		{"/nix/store/ai1vwqs9lakq4jbakmffpgk3gdh4i8hd-nixos-system-web1-24.05.20240901.abcdef", "nixos-system-web1", "24.05.20240901.abcdef"},
		{"/nix/store/bi1vwqs9lakq4jbakmffpgk3gdh4i8hd-glibc-2.39-52", "glibc", "2.39-52"},
		{"/nix/store/ci1vwqs9lakq4jbakmffpgk3gdh4i8hd-firmware/lib/firmware", "firmware", ""},
		{"/nix/store/di1vwqs9lakq4jbakmffpgk3gdh4i8hd-source", "source", ""},
		{"ei1vwqs9lakq4jbakmffpgk3gdh4i8hd-perl5.38.2-URI-5.21", "perl5.38.2-URI", "5.21"},
	}
	for _, tt := range tests {
		name, version := SplitName(tt.path)
		if name != tt.name || version != tt.version {
			t.Errorf("SplitName(%q) = (%q, %q), want (%q, %q)", tt.path, name, version, tt.name, tt.version)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1-0", 0}, // separators only separate
		{"2.39.4", "2.40", -1},
		{"6.6.58", "6.6.9", 1},          // numbers compare numerically
		{"6.4.20221231", "6.4.2023", 1}, // long numbers too
		{"5.2p32", "5.2p37", -1},
		{"5.2p32", "5.2.32", -1}, // a number sorts above a word
		{"2024a", "2024b", -1},
		{"2023c", "2024a", -1},
		{"1.0pre1", "1.0", 1},       // nvd: a prefix sorts first, so 1.0 < 1.0pre1
		{"1.0pre1", "1.0.1", -1},    // "pre" sorts below anything else
		{"1.0pre1", "1.0alpha", -1}, // ... even below other words
		{"1.0alpha", "1.0beta", -1},
		{"1.0", "1.0.0", -1},
		{"", "1.0", -1},
		{"", "", 0},
		{"2.39.4-bin", "2.39.4", 1},
		{"202402-fd", "202311-fd", 1},
		{"0001", "1", 0}, // leading zeros do not matter
		{"123456789012345678901234567890", "123456789012345678901234567891", -1},
	}
	for _, tt := range tests {
		if got := CompareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := CompareVersions(tt.b, tt.a); got != -tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d (antisymmetry)", tt.b, tt.a, got, -tt.want)
		}
	}
}
