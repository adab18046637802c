package fleet

import (
	"slices"

	"nixdeck/nix"
)

// HostDiff is the per-host result of `nixdeck diff`: the package diff of
// the running system against the new one, whether a reboot is needed, and
// optionally the /etc file diffs.
type HostDiff struct {
	// Host is the node name.
	Host string `json:"host"`
	// Current and New are the store paths of the running and the new system.
	Current string `json:"current"`
	New     string `json:"new"`
	// Diff is the nvd-style package diff.
	Diff *nix.ClosureDiff `json:"diff"`
	// RebootFor names what the new system boots with differently from
	// the system the host booted (nix.BootChanges): a reboot is needed
	// for it to take full effect. KernelChanged and InitrdChanged say the
	// same of the two most common.
	RebootFor     []string `json:"reboot_for,omitempty"`
	KernelChanged bool     `json:"kernel_changed"`
	InitrdChanged bool     `json:"initrd_changed"`
	// Files lists changed files under etc/ (with --files).
	Files []nix.FileDiff `json:"files,omitempty"`
	// Error says why this host could not be diffed ("" on success).
	Error string `json:"error,omitempty"`
}

// NewHostDiff compares a host's current closure with the new one. Until
// SetBoot says what the host booted, the reboot hint compares the running
// system's kernel and initrd, which misses a host switched but not rebooted.
func NewHostDiff(host string, cur, new *nix.Closure) *HostDiff {
	h := &HostDiff{Host: host, Current: cur.Root, New: new.Root,
		Diff: nix.DiffClosures(host+":"+nix.CurrentSystemLink, new.Root, cur, new)}
	h.setRebootFor(nix.BootChanges(nix.BootSpec{Kernel: cur.Kernel, Initrd: cur.Initrd}, nix.BootSpec{Kernel: new.Kernel, Initrd: new.Initrd}))
	return h
}

// SetBoot sets the reboot hint from the spec the host booted with
// (nix.HostState.BootedSpec) and the new system's (nix.LocalBootSpec).
func (h *HostDiff) SetBoot(booted, next nix.BootSpec) { h.setRebootFor(nix.BootChanges(booted, next)) }

func (h *HostDiff) setRebootFor(what []string) {
	h.RebootFor = what
	h.KernelChanged, h.InitrdChanged = slices.Contains(what, "kernel"), slices.Contains(what, "initrd")
}

// RebootNeeded reports whether the new system needs a reboot to take full effect.
func (h *HostDiff) RebootNeeded() bool { return len(h.RebootFor) > 0 }
