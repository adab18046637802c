package nix

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// BootSpec is what a NixOS system boots with. A system that differs from
// the booted one in any of it takes a reboot to take full effect; a switch
// alone changes none of what the running kernel was started with.
type BootSpec struct {
	// Kernel, Initrd and KernelModules are the store files the system's
	// kernel, initrd and kernel-modules links lead to ("" when absent).
	Kernel        string `json:"kernel,omitempty"`
	Initrd        string `json:"initrd,omitempty"`
	KernelModules string `json:"kernel_modules,omitempty"`
	// KernelParams is the content of the system's kernel-params file.
	KernelParams string `json:"kernel_params,omitempty"`
}

// IsZero reports whether nothing is known of the spec (no such system, or
// one without any boot files, such as a container's).
func (b BootSpec) IsZero() bool { return b == BootSpec{} }

// BootChanges names what differs between the booted system's spec and
// next's: "kernel", "initrd", "kernel-modules", "kernel-params". It is
// empty when either is unknown: without a booted system there is nothing
// a reboot would change.
func BootChanges(booted, next BootSpec) []string {
	if booted.IsZero() || next.IsZero() {
		return nil
	}
	var what []string
	for _, f := range []struct {
		name string
		a, b string
	}{
		{"kernel", booted.Kernel, next.Kernel},
		{"initrd", booted.Initrd, next.Initrd},
		{"kernel-modules", booted.KernelModules, next.KernelModules},
		{"kernel-params", booted.KernelParams, next.KernelParams},
	} {
		if f.a != f.b {
			what = append(what, f.name)
		}
	}
	return what
}

// RebootNeeded reports whether a machine booted with booted needs a
// reboot for next to take full effect. Compare with the booted system
// (/run/booted-system), never the running one: a host already switched to
// next still runs the old kernel.
func RebootNeeded(booted, next BootSpec) bool { return len(BootChanges(booted, next)) > 0 }

// maxKernelParams bounds the kernel-params file compared; hosts send one
// byte more (maxKernelParamsRead, for the script) so a longer file shows.
const (
	maxKernelParams     = 4096
	maxKernelParamsRead = "4097"
)

// LocalBootSpec reads the boot spec of a system on this machine (a store
// path or a link to one, such as a build result): where its boot file
// links lead, as NixOS writes them (straight to a store file).
func LocalBootSpec(system string) (BootSpec, error) {
	var b BootSpec
	for _, f := range []struct {
		name string
		dst  *string
	}{{"kernel", &b.Kernel}, {"initrd", &b.Initrd}, {"kernel-modules", &b.KernelModules}} {
		// The link's own target, as the host's script reports it (see
		// hostStateScript), so that the two compare.
		r, err := os.Readlink(filepath.Join(system, f.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return BootSpec{}, fmt.Errorf("boot files of %s: %w", system, err)
		}
		if err := checkStoreFile(r); err != nil {
			return BootSpec{}, fmt.Errorf("boot files of %s: %s leads to %s: %w", system, f.name, r, err)
		}
		*f.dst = r
	}
	fh, err := os.Open(filepath.Join(system, "kernel-params"))
	if os.IsNotExist(err) {
		return b, nil
	} else if err != nil {
		return BootSpec{}, fmt.Errorf("boot files of %s: %w", system, err)
	}
	defer fh.Close()
	params, err := io.ReadAll(io.LimitReader(fh, maxKernelParams+1))
	if err != nil {
		return BootSpec{}, fmt.Errorf("boot files of %s: %w", system, err)
	}
	if len(params) > maxKernelParams {
		return BootSpec{}, fmt.Errorf("boot files of %s: kernel-params is larger than %d bytes", system, maxKernelParams)
	}
	b.KernelParams = string(params)
	return b, nil
}

// bootSpec assembles the spec a host reported for one system (prefix
// "booted" or "profile", at path), setting aside what does not hold up.
func (s *HostState) bootSpec(kv map[string]string, prefix, path string) BootSpec {
	var b BootSpec
	for _, f := range []struct {
		name string
		dst  *string
	}{{"kernel", &b.Kernel}, {"initrd", &b.Initrd}, {"kernel-modules", &b.KernelModules}} {
		v, ok := kv[prefix+"_"+f.name]
		if !ok {
			continue
		}
		if v == "" {
			s.ignore(path+"/"+f.name, "not a readable symbolic link")
			continue
		}
		if err := checkStoreFile(v); err != nil {
			s.ignore(path+"/"+f.name, fmt.Sprintf("leads to %s: %v", excerpt(v), err))
			continue
		}
		*f.dst = v
	}
	if v, ok := kv[prefix+"_kernel-params"]; ok {
		if len(v) > maxKernelParams {
			s.ignore(path+"/kernel-params", fmt.Sprintf("larger than %d bytes", maxKernelParams))
			v = v[:maxKernelParams] // no kernel takes a longer command line
		}
		b.KernelParams = v
	}
	return b
}
