package ui

import (
	"context"
	"fmt"
	"os"
	"strings"

	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
	"nixdeck/nix"
)

// actKind is an action that changes hosts: each is confirmed first.
type actKind int

const (
	actSwitch     actKind = iota // s: switch the hosts, all in one wave
	actCanary                    // c: the fleet's policy, canary first
	actBoot                      // b: make it the boot default
	actTest                      // t: activate without making it the default
	actRollback                  // r: back to each host's previous generation
	actRollbackTo                // enter on a generation: back to it
)

// prepStage is where an action stands before its rollout starts.
type prepStage int

const (
	stageBuilding prepStage = iota
	stageDiffing
	stageConfirming
)

// preparation is an action on its way to a rollout: the build (for a
// deploy), the diff of what would change on each host, then the
// operator's confirmation. Nothing on a host changes before the yes.
type preparation struct {
	act     actKind
	nodes   []*fleet.Node
	to      int // the generation of actRollbackTo
	stage   prepStage
	rootDir string // the build's gc roots, removed when done with
	systems map[string]string
	diffs   map[string]*fleet.HostDiff
	errs    map[string]error
	cache   map[string]string // hosts' cache statuses, read for the warning (fleet.CacheUnusedWarning)
	opErr   error
	push    *fleet.CachePushEvent // the build's push to the cache, while under way
}

// verbs say what each action does, in the title, the confirmation and
// the status line.
var verbs = map[actKind]string{actSwitch: "Switch", actCanary: "Canary rollout to", actBoot: "Boot",
	actTest: "Test", actRollback: "Roll back", actRollbackTo: "Roll back"}

// deploys reports whether the action builds and copies a new system.
func (a actKind) deploys() bool { return a != actRollback && a != actRollbackTo }

// prepDirMsg is the directory made for an action's build.
type prepDirMsg struct {
	dir string
	err error
}

// act starts kind on the targets: the selected hosts, else the
// highlighted one.
func (m *Model) act(kind actKind) tea.Cmd {
	var nodes []*fleet.Node
	for _, r := range m.table.targets() {
		nodes = append(nodes, r.node)
	}
	return m.prepare(kind, nodes, 0)
}

// prepare starts an action on nodes, unless another is being prepared
// or a rollout runs: one change at a time, each confirmed on its own.
func (m *Model) prepare(kind actKind, nodes []*fleet.Node, to int) tea.Cmd {
	switch {
	case len(nodes) == 0:
		return m.say("no host to act on: the filter shows none", true)
	case m.prep != nil:
		return m.say("another action is being prepared; finish or cancel it first", true)
	case m.running():
		return m.say("a rollout is running; wait for it, or abort it with x", true)
	}
	m.prep = &preparation{act: kind, nodes: nodes, to: to, systems: map[string]string{},
		diffs: map[string]*fleet.HostDiff{}, errs: map[string]error{}, cache: map[string]string{}}
	if !kind.deploys() {
		m.prep.stage = stageDiffing
		return m.start(opPrepare, func(ctx context.Context) Events { return m.cfg.Engine.DiffRollback(ctx, nodes, to) })
	}
	root := m.cfg.RootDir
	return func() tea.Msg {
		dir, err := os.MkdirTemp(root, "action-")
		return prepDirMsg{dir, err}
	}
}

// build starts the action's build in the directory made for it.
func (m *Model) prepBuild(msg prepDirMsg) tea.Cmd {
	p := m.prep
	if p == nil { // cancelled while the directory was being made
		return removeDir(msg.dir)
	}
	if msg.err != nil {
		m.prep = nil
		m.showError(verbs[p.act]+": nothing was built", msg.err.Error())
		return nil
	}
	p.rootDir = msg.dir
	for _, n := range p.nodes {
		m.byName[n.Name].building = true
	}
	nodes := p.nodes
	return m.start(opPrepare, func(ctx context.Context) Events { return m.cfg.Engine.Build(ctx, nodes, msg.dir, true) })
}

// apply takes in one event of the action's build or diff.
func (p *preparation) apply(m *Model, e fleet.Event) {
	if p == nil {
		return
	}
	r := m.byName[e.Host()]
	switch e := e.(type) {
	case fleet.LogEvent:
		m.appendLog(e)
	case fleet.BuiltEvent:
		p.systems[e.Host()] = e.System
		if r != nil {
			r.built, r.buildErr = e.System, nil
		}
		m.appendLog(e) // says where it was built
	case fleet.CachePushEvent:
		p.push = &e
		if e.Done {
			p.push = nil
			m.appendLog(e) // the push's end, in the operation's log
		}
	case fleet.DiffEvent:
		p.diffs[e.Host()] = e.Diff
	case fleet.CacheConfigEvent:
		p.cache[e.Host()] = e.Status
	case fleet.DoneEvent:
		if e.Err != nil {
			p.errs[e.Host()] = e.Err
		}
		if r != nil && p.stage == stageBuilding {
			r.building, r.buildErr = false, e.Err
		}
	case fleet.OpFinished:
		p.opErr = e.Err
	}
}

// finished moves the action on once its build or diff has ended.
func (p *preparation) finished(m *Model) tea.Cmd {
	if p == nil {
		return nil
	}
	if p.stage == stageBuilding {
		for _, n := range p.nodes {
			m.byName[n.Name].building = false
		}
	}
	switch {
	case p.stage == stageBuilding && (p.opErr != nil || len(p.errs) > 0):
		m.prep = nil
		m.showError("Build failed; no host was touched", p.failures())
		return removeDir(p.rootDir)
	case p.stage == stageBuilding:
		p.stage = stageDiffing
		nodes, systems := p.nodes, p.systems
		readCache := m.cfg.Fleet.CacheCheckWanted(nodes) // for the confirmation's warning
		return m.start(opPrepare, func(ctx context.Context) Events {
			return m.cfg.Engine.Diff(ctx, nodes, fleet.DiffOptions{Systems: systems, CacheConfig: readCache})
		})
	case p.opErr != nil || len(p.errs) == len(p.nodes):
		m.prep = nil
		m.showError(verbs[p.act]+": nothing to confirm; no host was touched", p.failures())
		return removeDir(p.rootDir)
	}
	p.stage = stageConfirming
	m.dialog = &confirmDialog{p: p}
	return nil
}

// failures lists the operation's error and each host's, one a line.
func (p *preparation) failures() string {
	var b strings.Builder
	if p.opErr != nil {
		fmt.Fprintln(&b, p.opErr)
	}
	for _, n := range p.nodes {
		if err := p.errs[n.Name]; err != nil {
			fmt.Fprintf(&b, "%s: %s\n", n.Name, cause(n.Name, err))
		}
	}
	return b.String()
}

// cancel drops the action before its rollout: nothing was changed.
func (m *Model) cancelPrep() tea.Cmd {
	p := m.prep
	m.prep = nil
	for id, op := range m.ops {
		if op.kind == opPrepare {
			m.stop(id)
		}
	}
	return tea.Batch(m.say(verbs[p.act]+": cancelled; no host was touched", false), removeDir(p.rootDir))
}

// plan is the rollout the confirmed action starts.
func (p *preparation) plan(m *Model) fleet.Plan {
	f := m.cfg.Fleet
	pl := fleet.Plan{Kind: fleet.PlanDeploy, Nodes: p.nodes, Systems: p.systems, Policy: f.Deploy,
		Selector: nodeNames(p.nodes), Owner: m.cfg.Owner}
	if m.cfg.Recorder != nil {
		pl.Recorder = m.cfg.Recorder
	}
	switch p.act {
	case actSwitch:
		pl.Action = nix.Switch
	case actBoot:
		pl.Action = nix.Boot
	case actTest:
		pl.Action = nix.Test
	case actCanary:
		pl.Canary = canaryOf(f, p.nodes)
	case actRollback, actRollbackTo:
		pl.Kind, pl.Systems, pl.Action, pl.RollbackTo = fleet.PlanRollback, nil, nix.Switch, p.to
	}
	return pl
}

// canaryOf is the canary wave of a canary rollout of nodes: the fleet's
// canary hosts among them, else the first of them.
func canaryOf(f *fleet.Fleet, nodes []*fleet.Node) []*fleet.Node {
	in := map[*fleet.Node]bool{}
	for _, n := range f.CanaryNodes() {
		in[n] = true
	}
	var c []*fleet.Node
	for _, n := range nodes {
		if in[n] {
			c = append(c, n)
		}
	}
	if len(c) == 0 && len(nodes) > 0 {
		c = nodes[:1]
	}
	return c
}

// nodeNames joins the nodes' names with commas: a selector naming them.
func nodeNames(nodes []*fleet.Node) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return strings.Join(names, ",")
}

// removeDir removes a build's gc roots directory, in a command.
func removeDir(dir string) tea.Cmd {
	if dir == "" {
		return nil
	}
	return func() tea.Msg {
		if err := os.RemoveAll(dir); err != nil {
			return removeFailedMsg{err}
		}
		return nil
	}
}

// removeFailedMsg says a gc roots directory could not be removed.
type removeFailedMsg struct{ err error }
