package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"nixdeck/internal/termtext"
	"nixdeck/lab"
)

// labCmd groups the lab subcommands: a local fleet of NixOS-like hosts.
type labCmd struct {
	Up     labUpCmd     `cmd:"" help:"Start a fresh lab (taking down one already in the directory) and print its fleet file."`
	Down   labDownCmd   `cmd:"" help:"Stop every process of the lab."`
	Status labStatusCmd `cmd:"" help:"Show each lab host: sshd, port, generations, current system, next build."`
	Change labChangeCmd `cmd:"" help:"Change the selected hosts' configuration so that their next build differs."`
	Host   labHostCmd   `cmd:"" help:"Stop or start one host's sshd (an unreachable host), change its login user or its sudo."`
	Root   labRootCmd   `cmd:"" help:"Build the Debian 13 root that current-Nix hosts run in (cached), or show the cached one."`
}

// labDir is the --dir flag every lab subcommand takes.
type labDir struct {
	Dir string `placeholder:"D" help:"Lab directory (default $$XDG_STATE_HOME/nixdeck/lab, else ~/.local/state/nixdeck/lab)."`
}

// path returns the lab directory to use.
func (d labDir) path() string {
	if d.Dir == "" {
		return lab.DefaultDir()
	}
	return d.Dir
}

// open reads the lab in the directory.
func (d labDir) open() (*lab.Lab, error) { return lab.Open(d.path()) }

// labUpCmd implements `nixdeck lab up`.
type labUpCmd struct {
	labDir
	Hosts     int    `default:"6" help:"Number of hosts (the first is the canary, then web and db hosts)."`
	Current   int    `placeholder:"M" help:"Run the last M hosts on current Nix and OpenSSH, chrooted in a Debian 13 root (built once and cached; see lab root)."`
	CurrentOn string `placeholder:"SEL" help:"Run the selected hosts (names, @tags, globs) on current Nix and OpenSSH instead of the last M."`
	Builders  int    `placeholder:"N" help:"Add N build hosts (build01, …): not nodes but builders of the fleet file, usable as build_on: builder:NAME."`
	Cache     bool   `help:"Give the lab a signed binary cache served over HTTP on 127.0.0.1 by nginx, which every host substitutes from and trusts."`
}

// Run implements `nixdeck lab up`.
func (c *labUpCmd) Run(ctx context.Context, g *globals) error {
	// lab.Up reads 0 as its default; on the command line it is a mistake.
	if c.Hosts < 1 || c.Hosts > 500 {
		return exitCode(2, fmt.Errorf("lab up: --hosts must be between 1 and 500, not %d", c.Hosts))
	}
	start := time.Now()
	opts := lab.Options{Dir: c.path(), Hosts: c.Hosts, Current: c.Current, CurrentOn: c.CurrentOn,
		Builders: c.Builders, Cache: c.Cache, Progress: os.Stderr}
	if _, err := lab.CurrentHosts(opts); err != nil {
		return exitCode(2, err)
	}
	l, err := lab.Up(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "lab: %d hosts up in %s (ports %d-%d); try: nixdeck -f %s check\n",
		len(l.Hosts), time.Since(start).Round(100*time.Millisecond), minPort(l), maxPort(l), l.FleetPath)
	if cache, err := l.Cache(); err == nil {
		fmt.Fprintf(os.Stderr, "lab: binary cache %s served at %s (push: nix copy --to '%s?secret-key=%s')\n",
			cache.Dir, cache.URL, cache.PushURI, cache.SecretKey)
	}
	fmt.Println(l.FleetPath)
	return nil
}

func minPort(l *lab.Lab) int {
	m := l.Hosts[0].Port
	for _, h := range l.Hosts {
		m = min(m, h.Port)
	}
	return m
}

func maxPort(l *lab.Lab) int {
	m := 0
	for _, h := range l.Hosts {
		m = max(m, h.Port)
	}
	return m
}

// labDownCmd implements `nixdeck lab down`.
type labDownCmd struct{ labDir }

// Run implements `nixdeck lab down`.
func (c *labDownCmd) Run(g *globals) error {
	l, err := lab.OpenForDown(c.path())
	if err != nil {
		return err
	}
	if err := l.Down(context.Background()); err != nil {
		return err
	}
	if len(l.Hosts) == 0 {
		fmt.Fprintf(os.Stderr, "lab: down (%s had lost its lab.json; every namespace under ns/ swept)\n", l.Dir)
		return nil
	}
	fmt.Fprintf(os.Stderr, "lab: %d hosts down (%s)\n", len(l.Hosts), l.Dir)
	return nil
}

// labStatusCmd implements `nixdeck lab status`.
type labStatusCmd struct{ labDir }

// Run implements `nixdeck lab status`.
func (c *labStatusCmd) Run(g *globals) error {
	l, err := c.open()
	if err != nil {
		return err
	}
	sts, err := l.Status()
	if err != nil {
		return err
	}
	fmt.Printf("lab %s (fleet file %s)\n", l.Dir, l.FleetPath)
	if cache, err := l.Cache(); err == nil {
		state := "down"
		if l.CacheServing() {
			state = "up"
		}
		fmt.Printf("binary cache %s at %s (server %s)\n", cache.Dir, cache.URL, state)
	}
	return writeLabStatus(os.Stdout, sts)
}

// writeLabStatus prints one table row per host. The systems are read from
// the lab hosts' stores, host text like any other.
func writeLabStatus(w io.Writer, sts []lab.HostStatus) error {
	rows := [][]string{{"HOST", "PORT", "SSHD", "NIX", "OPENSSH", "GENERATIONS", "CURRENT SYSTEM", "NEXT BUILD"}}
	for _, s := range sts {
		sshd := "down"
		if s.SSHD {
			sshd = "up"
		}
		gens := make([]string, len(s.Generations))
		for i, g := range s.Generations {
			gens[i] = fmt.Sprint(g)
			if g == s.Profile {
				gens[i] += "*"
			}
		}
		cur := shortStorePath(s.Current)
		if s.Booted != "" && s.Booted != s.Current {
			cur += " (booted " + shortStorePath(s.Booted) + ")"
		}
		next := "release " + s.Release
		if s.Fault != "" {
			next += ", fault " + s.Fault
		}
		if s.Bump > 0 {
			next += fmt.Sprintf(", bump %d", s.Bump)
		}
		name := s.Name
		if s.Builder {
			name += " (builder)"
		}
		rows = append(rows, []string{name, strconv.Itoa(s.Port), sshd, orDash(s.Nix), orDash(s.OpenSSH), strings.Join(gens, " "), cur, next})
	}
	return termtext.WriteTable(w, rows)
}

// shortStorePath shows a store path as its hash prefix and name.
func shortStorePath(p string) string {
	if p == "" {
		return "-"
	}
	base := filepath.Base(p)
	if hash, name, ok := strings.Cut(base, "-"); ok && len(hash) > 7 {
		return hash[:7] + "…-" + name
	}
	return base
}

// labChangeCmd implements `nixdeck lab change`.
type labChangeCmd struct {
	labDir
	Selector string `arg:"" name:"SEL" help:"Hosts: comma list of names, @tags, globs, !exclusions, as --on takes them; an empty SEL selects all."`
	Release  string `enum:",a,b" default:"" placeholder:"a|b" help:"Package set of the next build: a (what lab up builds) or b (a point-release upgrade of a)."`
	Fault    string `enum:",none,fail,units,hang,breakssh,degraded,reboot" default:"" placeholder:"KIND" help:"Fault in the next build: fail, units, hang, breakssh, degraded, reboot, or none to clear."`
	// DegradeAfter is kept apart from Fault's enum: only degraded takes it.
	DegradeAfter time.Duration `placeholder:"D" help:"With --fault degraded: how long the host stays healthy after activating (default 3s)."`
	Bump         bool          `help:"Make the next build new (a new app version) even if nothing else changed."`
}

// Run implements `nixdeck lab change`.
func (c *labChangeCmd) Run(g *globals) error {
	if c.Release == "" && c.Fault == "" && !c.Bump {
		return exitCode(2, fmt.Errorf("lab change: nothing to change: give --release, --fault or --bump"))
	}
	l, err := c.open()
	if err != nil {
		return err
	}
	names, err := l.Select(c.Selector)
	if err != nil {
		return exitCode(2, err)
	}
	if c.DegradeAfter != 0 && c.Fault != "degraded" {
		return exitCode(2, fmt.Errorf("lab change: --degrade-after goes with --fault degraded"))
	}
	if err := l.Change(c.Selector, lab.ChangeOptions{Release: c.Release, Fault: c.Fault, DegradeAfter: c.DegradeAfter, Bump: c.Bump}); err != nil {
		return err
	}
	sts, err := l.Status()
	if err != nil {
		return err
	}
	fmt.Printf("changed %s; next build:\n", strings.Join(names, ", "))
	return writeLabStatus(os.Stdout, selectStatus(sts, names))
}

// selectStatus keeps the statuses of the named hosts.
func selectStatus(sts []lab.HostStatus, names []string) []lab.HostStatus {
	var out []lab.HostStatus
	for _, s := range sts {
		for _, n := range names {
			if s.Name == n {
				out = append(out, s)
			}
		}
	}
	return out
}

// labHostCmd implements `nixdeck lab host NAME [down|up] [--user U] [--sudo S]`.
type labHostCmd struct {
	labDir
	Name  string `arg:"" help:"Lab host name."`
	State string `arg:"" optional:"" enum:",down,up" default:"" help:"down stops the host's sshd, up starts it again."`
	User  string `enum:",root,deploy" default:"" placeholder:"root|deploy" help:"Log in to the host as root or as the deploy user (sudo) in the fleet file."`
	Sudo  string `enum:",password,nopasswd" default:"" placeholder:"password|nopasswd" help:"Make the deploy user's sudo want a password (sudo -n then fails) or not."`
}

// Run implements `nixdeck lab host`.
func (c *labHostCmd) Run(g *globals) error {
	if c.State == "" && c.User == "" && c.Sudo == "" {
		return exitCode(2, fmt.Errorf("lab host: nothing to do: give down, up, --user or --sudo"))
	}
	l, err := c.open()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(l.Hosts, func(h lab.Host) bool { return h.Name == c.Name }) {
		return exitCode(2, fmt.Errorf("lab %s has no host %q", l.Dir, c.Name))
	}
	if c.User != "" {
		if err := l.SetUser(c.Name, c.User); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "lab host %s: the fleet file logs in as %s\n", c.Name, c.User)
	}
	if c.Sudo != "" {
		if err := l.SetSudoPassword(c.Name, c.Sudo == "password"); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "lab host %s: sudo for %s: %s\n", c.Name, lab.DeployUser, c.Sudo)
	}
	if c.State != "" {
		if err := l.SetHost(c.Name, c.State == "up"); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "lab host %s: sshd %s\n", c.Name, c.State)
	}
	return nil
}

// labRootCmd implements `nixdeck lab root`.
type labRootCmd struct {
	Rebuild bool `help:"Build the root anew even when a complete one is cached (take labs with current-Nix hosts down first: they run on it)."`
}

// Run implements `nixdeck lab root`: it prints the root's directory on
// stdout, its versions on stderr.
func (c *labRootCmd) Run(ctx context.Context, g *globals) error {
	r, err := lab.EnsureRoot(ctx, lab.RootOptions{Rebuild: c.Rebuild, Progress: os.Stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "lab: current-Nix root (Debian %s): Nix %s, OpenSSH %s, built %s\n",
		r.Suite, r.Nix, r.OpenSSH, r.Built.Local().Format(time.DateTime))
	fmt.Println(r.Dir)
	return nil
}
