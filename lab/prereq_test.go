package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckNamesWhatIsMissing checks the prerequisite error against PATHs
// holding some of the tools the lab runs.
func TestCheckNamesWhatIsMissing(t *testing.T) {
	tests := []struct {
		name    string
		present []string
		want    []string
		notWant []string
	}{
		{"nothing", nil,
			[]string{"nix-store (Debian package nix-bin)", "nsenter (Debian package util-linux)", "`make demo` and `make test` install"},
			nil},
		{"only nsenter missing", []string{"nix", "nix-store", "nix-env", "unshare", "flock"},
			[]string{"nsenter (Debian package util-linux)"},
			[]string{"nix-store", "unshare"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, p := range tt.present {
				if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("PATH", dir)
			err := Check()
			if err == nil {
				t.Fatal("Check passed with tools missing")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q names %q, which is present", err, w)
				}
			}
		})
	}
}
