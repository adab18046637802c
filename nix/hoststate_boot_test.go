package nix

import (
	"nixdeck/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBootChanges(t *testing.T) {
	booted := BootSpec{Kernel: kernel32, Initrd: initrd32, KernelModules: modules32, KernelParams: "loglevel=4"}
	tests := []struct {
		name         string
		booted, next BootSpec
		want         []string
	}{
		{"the same", booted, booted, nil},
		{"new kernel", booted, BootSpec{Kernel: kernel36, Initrd: initrd36, KernelModules: modules36, KernelParams: "loglevel=4"}, []string{"kernel", "initrd", "kernel-modules"}},
		{"new parameters only", booted, BootSpec{Kernel: kernel32, Initrd: initrd32, KernelModules: modules32, KernelParams: "loglevel=7"}, []string{"kernel-params"}},
		{"an initrd dropped", booted, BootSpec{Kernel: kernel32, KernelModules: modules32, KernelParams: "loglevel=4"}, []string{"initrd"}},
		// Nothing known of the booted system (a container, not NixOS):
		// there is nothing a reboot would change.
		{"nothing booted", BootSpec{}, booted, nil},
		{"nothing next", booted, BootSpec{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := BootChanges(tt.booted, tt.next)
			if !slices.Equal(got, tt.want) || RebootNeeded(tt.booted, tt.next) != (len(tt.want) > 0) {
				t.Errorf("BootChanges = %q, RebootNeeded = %v; want %q", got, RebootNeeded(tt.booted, tt.next), tt.want)
			}
		})
	}
}

// TestLocalBootSpec reads the boot files of a system built here, as the
// host's script reads them there: links resolved into the store, the
// kernel parameters read.
func TestLocalBootSpec(t *testing.T) {
	testenv.NeedCommands(t, "nix", "nix-build", "nix-store")
	t.Setenv("NIX_CONFIG", "substituters =")
	dir := t.TempDir()
	add := func(name, file string) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, file), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("nix-store", "--add", d).Output()
		if err != nil {
			t.Fatalf("nix-store --add: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	kernel, initrd, modules := add("linux-6.6.58", "bzImage"), add("initrd-linux-6.6.58", "initrd"), add("linux-6.6.58-modules", "modules.dep")
	sys := filepath.Join(dir, "system")
	os.MkdirAll(sys, 0o755)
	for link, target := range map[string]string{"kernel": kernel + "/bzImage", "initrd": initrd + "/initrd", "kernel-modules": modules} {
		if err := os.Symlink(target, filepath.Join(sys, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(sys, "kernel-params"), []byte("loglevel=4 console=ttyS0"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := LocalBootSpec(sys)
	want := BootSpec{Kernel: kernel + "/bzImage", Initrd: initrd + "/initrd", KernelModules: modules, KernelParams: "loglevel=4 console=ttyS0"}
	if err != nil || b != want {
		t.Fatalf("LocalBootSpec = %+v, %v; want %+v", b, err, want)
	}

	// A container's system has no boot files: nothing known, no error.
	empty := filepath.Join(dir, "container")
	os.MkdirAll(empty, 0o755)
	if b, err := LocalBootSpec(empty); err != nil || !b.IsZero() {
		t.Errorf("system without boot files: %+v, %v", b, err)
	}
	// A kernel link that leads off the store is refused.
	os.Remove(filepath.Join(sys, "kernel"))
	os.Symlink("/etc/hostname", filepath.Join(sys, "kernel"))
	if _, err := LocalBootSpec(sys); err == nil || !strings.Contains(err.Error(), "not in /nix/store") {
		t.Errorf("kernel off the store: %v", err)
	}
	os.Remove(filepath.Join(sys, "kernel"))
	os.WriteFile(filepath.Join(sys, "kernel-params"), []byte(strings.Repeat("x", maxKernelParams+1)), 0o644)
	if _, err := LocalBootSpec(sys); err == nil || !strings.Contains(err.Error(), "larger than 4096 bytes") {
		t.Errorf("huge kernel-params: %v", err)
	}
}
