// Package fleet is nixdeck's engine: the fleet file and host selectors, and
// (in later files and in fleet/remote) the SSH transport and rollouts. It
// never imports Bubble Tea; the console and the headless CLI read the same
// values and events.
package fleet

import (
	"fmt"
	"sort"
	"time"
)

// Fleet is a loaded and validated fleet file.
type Fleet struct {
	// Path is the absolute path of the fleet file.
	Path string
	// Dir is the absolute directory of the fleet file; relative paths in it
	// resolve against Dir.
	Dir string
	// Flake is the flake holding nixosConfigurations: an absolute directory
	// for a local flake, or a flake reference as written ("github:o/r").
	// Exactly one of Flake and File is set.
	Flake string
	// File is the absolute path of a classic Nix file (`file: ./default.nix`).
	File string
	// Defaults are the settings nodes inherit, already merged with the
	// built-in defaults (sudo auto, build_on local).
	Defaults Settings
	// Deploy is the rollout policy.
	Deploy Deploy
	// Nodes are the hosts in fleet file order.
	Nodes []*Node
	// Builders are the build hosts of `builders`, in file order.
	Builders []*Builder
	// Cache is the binary cache; nil without a `cache` section.
	Cache *Cache

	byName map[string]*Node
}

// Settings are the per-host connection and build settings. Every key of the
// fleet file's `defaults` may be overridden per node. Empty strings and a
// zero Port mean "not set": ~/.ssh/config and the SSH defaults fill them in.
type Settings struct {
	// User is the login user; "" means not set.
	User string
	// Port is the SSH port; 0 means not set.
	Port int
	// Identity is an absolute private key path; "" means not set.
	Identity string
	// KnownHosts is an absolute known_hosts path; "" means ~/.ssh/known_hosts.
	KnownHosts string
	// Jump is a bastion, "[user@]host[:port]"; JumpNone when the file
	// says there is none (`jump: ""`), which also overrides ProxyJump;
	// "" when not set (~/.ssh/config's ProxyJump, if any, applies).
	Jump string
	// Sudo is SudoAuto, SudoAlways or SudoNever.
	Sudo string
	// BuildOn is BuildLocal, BuildTarget or BuildBuilderPrefix+NAME
	// (see BuilderName).
	BuildOn string
	// SubstituteOnDestination lets hosts fetch paths from their own binary
	// caches when a closure is copied to them.
	SubstituteOnDestination bool
}

// Values of Settings.Sudo.
const (
	SudoAuto   = "auto"   // sudo -n when the login user is not root
	SudoAlways = "always" // always sudo -n
	SudoNever  = "never"  // never sudo
)

// JumpNone is Settings.Jump for a fleet file that says `jump: ""`: no
// bastion, whatever ~/.ssh/config's ProxyJump says.
const JumpNone = "none"

// Values of Settings.BuildOn.
const (
	BuildLocal  = "local"  // build here, copy the closure to the host
	BuildTarget = "target" // copy the derivation, build on the host
)

// Values of Deploy.Action: the switch-to-configuration verbs.
const (
	ActionSwitch      = "switch"
	ActionBoot        = "boot"
	ActionTest        = "test"
	ActionDryActivate = "dry-activate"
)

// Values of Deploy.OnFailure.
const (
	OnFailureHalt           = "halt"            // stop starting hosts, leave the rest
	OnFailureRollbackFailed = "rollback-failed" // roll back the hosts that failed
	OnFailureRollbackAll    = "rollback-all"    // roll back every host of the rollout
)

// Deploy is the rollout policy of the fleet file's `deploy` section.
type Deploy struct {
	// Action is the switch-to-configuration verb (ActionSwitch...).
	Action string
	// Parallel is how many hosts are worked on at once (>= 1).
	Parallel int
	// Canary are selector expressions deployed and health-checked first;
	// empty means no canary wave.
	Canary []string
	// Batch is the size of the waves after the canary.
	Batch Batch
	// MaxFailures is how many failed hosts are tolerated before the rollout halts.
	MaxFailures int
	// OnFailure is what happens when the rollout halts (OnFailureHalt...).
	OnFailure string
	// Soak is how long health checks must stay green before the next wave.
	Soak time.Duration
	// MagicRollback rolls a host back by itself unless the console confirms
	// it is still reachable within ConfirmTimeout after activation.
	MagicRollback bool
	// ConfirmTimeout bounds the reachability confirmation.
	ConfirmTimeout time.Duration
	// ActivationTimeout bounds switch-to-configuration on one host.
	ActivationTimeout time.Duration
	// Health are the checks run after activation, in file order.
	Health []HealthCheck
}

// DefaultDeploy is the policy used for everything the `deploy` section does
// not say: switch, 10 hosts at once, no canary, waves of 25%, halt on the
// first failure, 30s soak, magic rollback with a 30s confirmation, 10m
// activation timeout, no health checks.
func DefaultDeploy() Deploy {
	return Deploy{
		Action:            ActionSwitch,
		Parallel:          10,
		Batch:             Batch{Percent: 25},
		OnFailure:         OnFailureHalt,
		Soak:              30 * time.Second,
		MagicRollback:     true,
		ConfirmTimeout:    30 * time.Second,
		ActivationTimeout: 10 * time.Minute,
	}
}

// Batch is a wave size: a host count or a percentage of the hosts being
// deployed. Exactly one of Count and Percent is non-zero.
type Batch struct {
	// Count is a fixed number of hosts per wave.
	Count int
	// Percent is a share of the rollout's hosts per wave, 1-100.
	Percent int
}

// Size is the number of hosts per wave when n hosts are deployed: at least
// 1 (for n > 0), at most n, percentages rounded up.
func (b Batch) Size(n int) int {
	if n <= 0 {
		return 0
	}
	s := b.Count
	if b.Percent > 0 {
		s = (n*b.Percent + 99) / 100
	}
	return min(max(s, 1), n)
}

// String renders the batch as the fleet file writes it ("25%" or "3").
func (b Batch) String() string {
	if b.Percent > 0 {
		return fmt.Sprintf("%d%%", b.Percent)
	}
	return fmt.Sprint(b.Count)
}

// DefaultHealthTimeout bounds a health check that sets no timeout.
const DefaultHealthTimeout = 30 * time.Second

// Node looks a node up by name; nil when there is none.
func (f *Fleet) Node(name string) *Node {
	if f.byName != nil {
		return f.byName[name]
	}
	for _, n := range f.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Tags lists every tag used in the fleet, sorted.
func (f *Fleet) Tags() []string {
	seen := map[string]bool{}
	var tags []string
	for _, n := range f.Nodes {
		for _, t := range n.Tags {
			if !seen[t] {
				seen[t] = true
				tags = append(tags, t)
			}
		}
	}
	sort.Strings(tags)
	return tags
}

// Tagged lists the nodes carrying tag, in file order.
func (f *Fleet) Tagged(tag string) []*Node {
	var ns []*Node
	for _, n := range f.Nodes {
		if n.HasTag(tag) {
			ns = append(ns, n)
		}
	}
	return ns
}

// CanaryNodes is the union of the deploy.canary selections, in file order;
// empty when the policy has no canary. Load has checked every selector.
func (f *Fleet) CanaryNodes() []*Node {
	if len(f.Deploy.Canary) == 0 {
		return nil
	}
	in := map[*Node]bool{}
	for _, expr := range f.Deploy.Canary {
		ns, _ := f.Select(expr)
		for _, n := range ns {
			in[n] = true
		}
	}
	var ns []*Node
	for _, n := range f.Nodes {
		if in[n] {
			ns = append(ns, n)
		}
	}
	return ns
}
