package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/nix"
)

// statusCmd prints the live state of the selected hosts.
type statusCmd struct {
	On   string `placeholder:"SEL" help:"Hosts to show: names, @tags, globs, !exclusions, comma-separated (default all)."`
	JSON bool   `name:"json" help:"Print JSON instead of a table."`
}

// Run implements `nixdeck status`.
func (c *statusCmd) Run(ctx context.Context, g *globals) error {
	return c.run(ctx, g, os.Stdout, os.Stderr)
}

func (c *statusCmd) run(ctx context.Context, g *globals, out, errOut io.Writer) error {
	sts, err := readStatuses(ctx, g, c.On, errOut)
	if err != nil {
		return err
	}
	if c.JSON {
		err = writeJSON(out, statusJSON(sts))
	} else {
		err = writeStatusTable(out, sts)
	}
	if err != nil {
		return err
	}
	return failedHosts(sts)
}

// readStatuses loads the fleet, selects hosts and reads their state in
// parallel (deploy.parallel at a time), in file order.
func readStatuses(ctx context.Context, g *globals, on string, errOut io.Writer) ([]fleet.HostStatus, error) {
	f, nodes, err := selectHosts(g, on, "", errOut)
	if err != nil {
		return nil, err
	}
	eng := fleet.Open(f, fleet.Options{})
	defer eng.Close()
	return fleet.CollectStates(nodes, eng.ReadStates(ctx, nodes).All()), nil
}

// failedHosts is the exit status of a status-like command: an error (exit
// 1) when any host could not be read, naming those that failed apart from
// those an interruption stopped.
func failedHosts(sts []fleet.HostStatus) error {
	var failed, stopped []string
	for _, s := range sts {
		switch {
		case errors.Is(s.Err, fleet.ErrInterrupted):
			stopped = append(stopped, s.Node.Name)
		case s.Err != nil:
			failed = append(failed, s.Node.Name)
		}
	}
	var msgs []string
	if len(failed) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d of %d hosts could not be read: %s", len(failed), len(sts), strings.Join(failed, ", ")))
	}
	if len(stopped) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d of %d hosts interrupted: %s", len(stopped), len(sts), strings.Join(stopped, ", ")))
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

// hostOutcome is what a host's row says instead of its state: the error,
// or "interrupted" for a host that Ctrl-C stopped before it answered.
func hostOutcome(err error) string { return oneLine(hostOutcomeLines(err)) }

// hostOutcomeLines is hostOutcome with the error's lines kept, for output
// that is not a table.
func hostOutcomeLines(err error) string {
	if errors.Is(err, fleet.ErrInterrupted) {
		return "interrupted"
	}
	return "error: " + strings.TrimSpace(err.Error())
}

// writeStatusTable prints one row per host; unreachable hosts show the
// cause. Every cell is host text (versions, lock holders, errors), which
// WriteTable makes visible.
func writeStatusTable(w io.Writer, sts []fleet.HostStatus) error {
	head := []string{"HOST", "GEN", "RUNNING", "VERSION", "REBOOT", "SWITCH LOCK", "NIXDECK LOCK", "UPTIME"}
	cache := slices.ContainsFunc(sts, func(s fleet.HostStatus) bool { return s.Cache != "" || s.CacheErr != nil })
	if cache {
		// Before UPTIME: a failed host's row ends with its free-running cause.
		head = slices.Insert(head, len(head)-1, "CACHE")
	}
	rows := [][]string{head}
	for _, s := range sts {
		if s.Err != nil {
			rows = append(rows, []string{s.Node.Name, "-", hostOutcome(s.Err)})
			continue
		}
		st := s.State
		running := storeName(st.Current)
		if st.Current != "" && st.Current != st.Profile {
			running += " (profile: " + storeName(st.Profile) + ")"
		}
		row := []string{s.Node.Name, genNumber(st.ProfileGeneration), running, orDash(st.Version),
			yesNo(st.RebootNeeded), st.SwitchLock.String(), st.NixdeckLock.String(), formatUptime(st.Uptime)}
		if cache {
			row = slices.Insert(row, len(row)-1, cacheCell(s))
		}
		rows = append(rows, row)
	}
	return termtext.WriteTable(w, rows)
}

// cacheCell says whether a host can substitute from the fleet's cache,
// or why that is not known.
func cacheCell(s fleet.HostStatus) string {
	if s.CacheErr != nil {
		return hostOutcome(s.CacheErr)
	}
	return orDash(s.Cache)
}

// oneLine joins the lines of a message (stderr tails) with " | ", so that
// it stays in its table row.
func oneLine(s string) string {
	return strings.Join(strings.Split(strings.TrimSpace(s), "\n"), " | ")
}

// hostStatusJSON is one host in `status --json`.
type hostStatusJSON struct {
	Host              string           `json:"host"`
	Error             string           `json:"error,omitempty"`
	Interrupted       bool             `json:"interrupted,omitempty"`
	Hostname          string           `json:"hostname,omitempty"`
	Current           string           `json:"current,omitempty"`
	Booted            string           `json:"booted,omitempty"`
	Profile           string           `json:"profile,omitempty"`
	ProfileGeneration int              `json:"profile_generation,omitempty"`
	Version           string           `json:"version,omitempty"`
	RebootNeeded      *bool            `json:"reboot_needed,omitempty"`
	SwitchLock        string           `json:"switch_lock,omitempty"`
	NixdeckLock       string           `json:"nixdeck_lock,omitempty"`
	UptimeSeconds     int64            `json:"uptime_seconds,omitempty"`
	Systemd           *bool            `json:"systemd,omitempty"`
	Generations       []nix.Generation `json:"generations,omitempty"`
	Missing           []string         `json:"missing,omitempty"`
	Ignored           []nix.Ignored    `json:"ignored,omitempty"`
	// Cache and CacheError are there when the fleet has a cache.
	Cache      string `json:"cache,omitempty"`
	CacheError string `json:"cache_error,omitempty"`
}

func statusJSON(sts []fleet.HostStatus) []hostStatusJSON {
	out := make([]hostStatusJSON, len(sts))
	for i, s := range sts {
		j := hostStatusJSON{Host: s.Node.Name, Cache: s.Cache, CacheError: errText(s.CacheErr)}
		if s.Err != nil {
			j.Error, j.Interrupted = s.Err.Error(), errors.Is(s.Err, fleet.ErrInterrupted)
		} else {
			st := s.State
			j.Hostname, j.Current, j.Booted, j.Profile = st.Hostname, st.Current, st.Booted, st.Profile
			// Pointers: an unreachable host says nothing about reboots or
			// systemd, rather than a false "no".
			j.ProfileGeneration, j.Version, j.RebootNeeded = st.ProfileGeneration, st.Version, &st.RebootNeeded
			j.SwitchLock, j.NixdeckLock = st.SwitchLock.String(), st.NixdeckLock.String()
			j.UptimeSeconds, j.Systemd = int64(st.Uptime/time.Second), &st.Systemd
			j.Generations = st.Generations
			j.Missing, j.Ignored = st.Missing, st.Ignored
		}
		out[i] = j
	}
	return out
}

// storeName strips /nix/store/<hash>- from a store path.
func storeName(p string) string {
	if p == "" {
		return "-"
	}
	b := path.Base(p)
	if i := strings.IndexByte(b, '-'); i == 32 {
		return b[i+1:]
	}
	return b
}

func genNumber(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// formatUptime renders an uptime as 3d4h, 5h12m or 42m.
func formatUptime(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}
