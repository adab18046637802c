package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"nixdeck/fleet"
	"nixdeck/nix"
)

// checkCmd validates the fleet file and prints what nixdeck made of it.
type checkCmd struct{}

// Run implements `nixdeck check`.
func (c *checkCmd) Run(g *globals) error { return c.run(g, os.Stdout, os.Stderr) }

func (c *checkCmd) run(g *globals, out, errOut io.Writer) error {
	f, err := loadFleet(g.File, errOut)
	if err != nil {
		return err
	}
	flake, refErr := nix.FlakeRef(f.Flake)
	writeSummary(out, f, flake)
	for _, w := range fileWarnings(f, flake.Ref, refErr) {
		fmt.Fprintln(errOut, "warning:", w)
	}
	return nil
}

// loadFleet locates and loads the fleet file for any command. Each problem
// in the file is printed to errOut on a line of its own; the returned error
// carries exit code 2 for every fleet file failure.
func loadFleet(flag string, errOut io.Writer) (*fleet.Fleet, error) {
	path, err := fleet.Locate(flag)
	if err != nil {
		return nil, exitCode(2, err)
	}
	f, err := fleet.Load(path)
	var fes fleet.FileErrors
	if errors.As(err, &fes) {
		for _, e := range fes {
			fmt.Fprintln(errOut, e)
		}
		return nil, exitCode(2, fmt.Errorf("%s is invalid: %s", path, plural(len(fes), "error")))
	}
	if err != nil {
		return nil, exitCode(2, err)
	}
	return f, nil
}

// writeSummary prints the fleet's source (with flake, what builds hand to
// Nix for a local flake; zero when there is none), tags, nodes with their
// resolved settings, the builders and the cache, and the deploy policy.
func writeSummary(w io.Writer, f *fleet.Fleet, flake nix.Flake) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "fleet\t%s\n", f.Path)
	if f.Flake != "" {
		fmt.Fprintf(tw, "flake\t%s\n", f.Flake)
		switch ref := flake.Ref; {
		case ref == f.Flake || ref == "":
		case strings.HasPrefix(ref, "git+file:"):
			fmt.Fprintf(tw, "\tbuilt as %s (a git checkout: Nix copies the files git tracks)\n", ref)
		default:
			fmt.Fprintf(tw, "\tbuilt as %s (not a git checkout: Nix copies the whole directory)\n", ref)
		}
		if flake.Dir != "" {
			fmt.Fprintf(tw, "\twith Nix run in %s: its path needs %%-escapes in a URL, which this Nix does not decode\n", flake.Dir)
		}
	} else {
		fmt.Fprintf(tw, "file\t%s\n", f.File)
	}
	fmt.Fprintf(tw, "nodes\t%d\n", len(f.Nodes))
	for i, t := range f.Tags() {
		fmt.Fprintf(tw, "%s\t@%s: %s\n", label(i, "tags"), t, names(f.Tagged(t)))
	}

	fmt.Fprintln(tw, "\nNODE\tHOST\tUSER\tPORT\tSUDO\tBUILD_ON\tTAGS\tATTR")
	for _, n := range f.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Host, orDash(n.User),
			orDash(portString(n.Port)), n.Sudo, n.BuildOn, orDash(strings.Join(n.Tags, ",")), n.AttrPath())
	}
	fmt.Fprintln(tw, "\nNODE\tIDENTITY\tKNOWN_HOSTS\tJUMP\tSUBSTITUTE_ON_DESTINATION")
	for _, n := range f.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\n", n.Name, orDash(n.Identity),
			or(n.KnownHosts, "~/.ssh/known_hosts"), orDash(n.Jump), n.SubstituteOnDestination)
	}
	fmt.Fprintln(tw, "(- = not set: ~/.ssh/config decides, then the SSH defaults)")
	writeBuilders(tw, f)

	d := f.Deploy
	fmt.Fprintf(tw, "\ndeploy\taction %s, parallel %d, batch %s, max_failures %d, on_failure %s\n",
		d.Action, d.Parallel, d.Batch, d.MaxFailures, d.OnFailure)
	fmt.Fprintf(tw, "\tsoak %s, magic_rollback %t, confirm_timeout %s, activation_timeout %s\n",
		shortDuration(d.Soak), d.MagicRollback, shortDuration(d.ConfirmTimeout), shortDuration(d.ActivationTimeout))
	if len(d.Canary) == 0 {
		fmt.Fprintln(tw, "canary\tnone")
	}
	for i, expr := range d.Canary {
		ns, _ := f.Select(expr)
		fmt.Fprintf(tw, "%s\t%s: %s\n", label(i, "canary"), expr, names(ns))
	}
	if len(d.Health) == 0 {
		fmt.Fprintln(tw, "health\tnone")
	}
	for i, h := range d.Health {
		what := "run " + h.Run
		if h.HTTP != "" {
			what = fmt.Sprintf("http %s, expect %d", h.HTTP, h.Expect)
		}
		fmt.Fprintf(tw, "%s\t%s: %s, timeout %s\n", label(i, "health"), h.Name, what, shortDuration(h.Timeout))
	}
}

// label prints name on the first row of a group and nothing after.
func label(i int, name string) string {
	if i == 0 {
		return name
	}
	return ""
}

// names joins node names with commas.
func names(ns []*fleet.Node) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.Name
	}
	return strings.Join(s, ", ")
}

func portString(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}

func orDash(s string) string { return or(s, "-") }

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// shortDuration prints 10m rather than time's 10m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// plural renders "1 error", "3 errors".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
