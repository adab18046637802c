package fleet_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
	"nixdeck/nix"
)

// opsLab is a running lab with its fleet file loaded, a connection pool
// and an Engine on it. Its helpers take the *testing.T of the (sub)test
// that calls them: a failure must end that subtest, never its parent.
type opsLab struct {
	lab  *lab.Lab
	f    *fleet.Fleet
	pool *remote.Pool
	conn fleet.PoolConnector
	eng  *fleet.Engine
	// after, when set, is the clock of the rollouts the helpers start
	// (see soakGate).
	after func(time.Duration) <-chan time.Time
}

func startOpsLab(t *testing.T, n int) *opsLab {
	t.Setenv("NIX_CONFIG", "substituters =")
	return openOpsLab(t, labtest.Start(t, n))
}

// startMixedOpsLab is startOpsLab on a mixed lab: its last n/2 hosts run
// current Nix and OpenSSH (labtest.StartMixed).
func startMixedOpsLab(t *testing.T, n int) *opsLab {
	t.Setenv("NIX_CONFIG", "substituters =")
	return openOpsLab(t, labtest.StartMixed(t, n))
}

// openOpsLab loads the lab's fleet file and opens a pool and an Engine.
func openOpsLab(t *testing.T, l *lab.Lab) *opsLab {
	f, err := fleet.Load(l.FleetPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := newPool()
	t.Cleanup(func() { pool.Close() })
	conn := fleet.PoolConnector{Pool: pool}
	eng := fleet.Open(f, fleet.Options{Connector: conn})
	t.Cleanup(func() { eng.Close() })
	return &opsLab{lab: l, f: f, pool: pool, conn: conn, eng: eng}
}

// newPool is a connection pool that ignores the operator's ~/.ssh/config.
func newPool() *remote.Pool { return remote.NewPool(remote.Options{SSHConfigPath: "none"}) }

func (o *opsLab) node(t *testing.T, name string) *fleet.Node {
	t.Helper()
	n := o.f.Node(name)
	if n == nil {
		t.Fatalf("no node %s", name)
	}
	return n
}

// change applies a lab change to hosts and builds their next systems with
// Engine.Build (one nix build for all of them).
func (o *opsLab) change(t *testing.T, ctx context.Context, sel string, opts lab.ChangeOptions, names ...string) map[string]string {
	t.Helper()
	if err := o.lab.Change(sel, opts); err != nil {
		t.Fatal(err)
	}
	var nodes []*fleet.Node
	for _, n := range names {
		nodes = append(nodes, o.node(t, n))
	}
	built, err := builtSystems(ctx, o.eng, nodes, t.TempDir())
	if err != nil {
		t.Fatalf("build %v: %v", names, err)
	}
	return built
}

// copyAll copies each host's system over its pooled connection, all hosts
// in parallel through Engine.RunHosts, and returns each host's result.
func (o *opsLab) copyAll(t *testing.T, ctx context.Context, systems map[string]string) map[string]nix.CopyResult {
	t.Helper()
	var nodes []*fleet.Node
	for n := range systems {
		nodes = append(nodes, o.node(t, n))
	}
	results := make(chan struct {
		host string
		res  nix.CopyResult
	}, len(nodes))
	events := o.eng.RunHosts(ctx, "copy", nodes, func(ctx context.Context, h *fleet.HostRun) error {
		res, err := h.Copy(ctx, systems[h.Node.Name], false)
		results <- struct {
			host string
			res  nix.CopyResult
		}{h.Node.Name, res}
		return err
	})
	progress := map[string]nix.CopyProgress{}
	for e := range events.All() {
		switch e := e.(type) {
		case fleet.CopyEvent:
			progress[e.Host()] = e.CopyProgress
		case fleet.DoneEvent:
			if e.Err != nil {
				t.Fatalf("copy: %v", e.Err)
			}
		}
	}
	close(results)
	out := map[string]nix.CopyResult{}
	for r := range results {
		out[r.host] = r.res
		if p := progress[r.host]; p.PathsDone != len(r.res.Missing) || p.BytesDone != r.res.Bytes {
			t.Errorf("%s: last progress %+v, result %d paths %d bytes", r.host, p, len(r.res.Missing), r.res.Bytes)
		}
	}
	return out
}

// state reads a host's state over SSH.
func (o *opsLab) state(t *testing.T, ctx context.Context, host string) *nix.HostState {
	t.Helper()
	sts := fleet.CollectStates([]*fleet.Node{o.node(t, host)}, o.eng.ReadStates(ctx, []*fleet.Node{o.node(t, host)}).All())
	if sts[0].Err != nil {
		t.Fatalf("state of %s: %v", host, sts[0].Err)
	}
	return sts[0].State
}

var opSeq atomic.Int64

// activate runs one detached activation on host over its pooled connection.
func (o *opsLab) activate(t *testing.T, ctx context.Context, host string, req nix.ActivateRequest) (nix.ActivateResult, []string, error) {
	t.Helper()
	n := o.node(t, host)
	r, err := o.conn.Runner(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	req.OpID = fmt.Sprintf("test-%d-%d", time.Now().Unix(), opSeq.Add(1))
	if req.Log == nil {
		req.Log = func(l string) { logs = append(logs, l) }
	}
	if req.Reconnect == nil {
		req.Reconnect = func(ctx context.Context) (nix.Runner, error) { return o.conn.Fresh(ctx, n) }
	}
	res, err := nix.Activate(ctx, r, req)
	return res, logs, err
}

// hostClosure lists the closure of the host's running system, read inside
// the host's namespace without nixdeck.
func (o *opsLab) hostClosure(t *testing.T, ctx context.Context, host string) []string {
	t.Helper()
	out, err := o.lab.Exec(ctx, host, []string{"nix-store", "-qR", "/run/current-system"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
}

// missingFrom returns the paths of closure that have is lacks, in order.
func missingFrom(closure, has []string) []string {
	var m []string
	for _, p := range closure {
		if !slices.Contains(has, p) {
			m = append(m, p)
		}
	}
	return m
}
