package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/internal/termtext"
)

// trustCmd shows the host keys of the selected nodes and, once confirmed,
// appends the new ones to each node's known_hosts file.
type trustCmd struct {
	Nodes []string `arg:"" optional:"" name:"NODE" help:"Nodes to trust: selector terms, as with --on (the refusal of an unknown host key names this form)."`
	On    string   `placeholder:"SEL" help:"Nodes to trust: names, @tags, globs, !exclusions, comma-separated (default all)."`
	Yes   bool     `help:"Append the new keys without asking."`
	Hash  bool     `help:"Write hashed host names, as ssh-keygen -H does."`
}

// confirmTimeout bounds how long trust waits for the operator's answer.
const confirmTimeout = 5 * time.Minute

// Run implements `nixdeck trust`.
func (c *trustCmd) Run(ctx context.Context, g *globals) error {
	return c.run(ctx, g, remote.Options{}, os.Stdin, os.Stdout, os.Stderr)
}

func (c *trustCmd) run(ctx context.Context, g *globals, o remote.Options, in io.Reader, out, errOut io.Writer) error {
	f, err := loadFleet(g.File, errOut)
	if err != nil {
		return err
	}
	sel := c.selector()
	nodes, err := f.Select(sel)
	if err != nil {
		return exitCode(2, err)
	}
	if len(nodes) == 0 {
		return exitCode(2, fmt.Errorf("%q selects no node", sel))
	}
	eng := fleet.Open(f, fleet.Options{SSH: o})
	defer eng.Close()
	results := fleet.CollectKeys(nodes, eng.ScanKeys(ctx, nodes).All())
	if err := writeScan(out, results); err != nil {
		return err
	}
	failed := scanFailures(errOut, results)
	fresh := newKeys(results)
	if len(fresh) == 0 {
		if failed == nil {
			fmt.Fprintln(out, "Nothing to add: the keys shown are already trusted.")
		}
		return failed
	}
	if !c.Yes {
		ok, err := confirm(ctx, in, out, fmt.Sprintf("Append %s to %s?", plural(len(fresh), "host key"), keyFiles(fresh)))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("not confirmed; %s left unchanged", keyFiles(fresh))
		}
	}
	added, err := remote.AppendKnownHosts(fresh, c.Hash)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Added %s to %s.\n", plural(added, "host key"), keyFiles(fresh))
	return failed
}

// selector joins the NODE arguments and --on into one selector
// expression; both empty selects every node.
func (c *trustCmd) selector() string {
	var terms []string
	for _, t := range append(append([]string(nil), c.Nodes...), c.On) {
		if strings.TrimSpace(t) != "" {
			terms = append(terms, t)
		}
	}
	return strings.Join(terms, ",")
}

// writeScan prints one line per key: node, address, fingerprint, state.
// The key type and a bastion's name come from the SSH exchange and
// known_hosts; WriteTable escapes them with the rest.
func writeScan(w io.Writer, results []fleet.ScanResult) error {
	rows := [][]string{{"NODE", "ADDRESS", "KEY", "STATE"}}
	for _, r := range results {
		if r.Err != nil {
			rows = append(rows, []string{r.Node.Name, r.Node.Host, "-", "failed (below)"})
			continue
		}
		for _, k := range r.Keys {
			addr := k.Addr
			if k.Name != r.Node.Name {
				addr = "via " + k.Name
			}
			state := "new"
			if k.Known {
				state = "already trusted"
			}
			rows = append(rows, []string{r.Node.Name, addr, k.Type() + " " + k.Fingerprint, state})
		}
	}
	return termtext.WriteTable(w, rows)
}

// scanFailures prints each failed node's error and returns a summary
// error (exit 1), or nil when every node was scanned.
func scanFailures(errOut io.Writer, results []fleet.ScanResult) error {
	var failed []string
	for _, r := range results {
		if r.Err != nil {
			// The error may quote what the host sent (its banner, a
			// proxy's stderr).
			fmt.Fprintln(errOut, termtext.VisibleLines(r.Err.Error()))
			failed = append(failed, r.Node.Name)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d nodes could not be scanned: %s", len(failed), len(results), strings.Join(failed, ", "))
}

// newKeys returns the keys not yet trusted, each once.
func newKeys(results []fleet.ScanResult) []remote.HostKey {
	seen := map[string]bool{}
	var fresh []remote.HostKey
	for _, r := range results {
		for _, k := range r.Keys {
			id := k.KnownHosts + " " + k.Addr + " " + k.Fingerprint
			if !k.Known && !seen[id] {
				seen[id] = true
				fresh = append(fresh, k)
			}
		}
	}
	return fresh
}

// keyFiles names the known_hosts files the keys go to.
func keyFiles(keys []remote.HostKey) string {
	set := map[string]bool{}
	for _, k := range keys {
		set[k.KnownHosts] = true
	}
	files := make([]string, 0, len(set))
	for f := range set {
		files = append(files, f)
	}
	sort.Strings(files)
	return strings.Join(files, ", ")
}

// confirm asks a yes/no question on out and reads the answer from in,
// bounded by ctx and confirmTimeout. Only "y" or "yes" is a yes.
func confirm(ctx context.Context, in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprintf(out, "%s [y/N] ", question)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(in).ReadString('\n')
		answer <- strings.ToLower(strings.TrimSpace(line))
	}()
	select {
	case a := <-answer:
		return a == "y" || a == "yes", nil
	case <-ctx.Done():
		fmt.Fprintln(out)
		return false, ctx.Err()
	case <-time.After(confirmTimeout):
		fmt.Fprintln(out)
		return false, fmt.Errorf("no answer within %v", confirmTimeout)
	}
}
