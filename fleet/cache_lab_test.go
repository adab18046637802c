package fleet_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
	"nixdeck/nix"
)

// TestRolloutFromCacheOnLab is issue 12's acceptance on a 20-host lab
// with a signed binary cache served over HTTP (two hosts on current Nix):
// once the systems are pushed to the cache, a rollout to all 20 sends
// next to nothing from here and every host fetched its NARs from the
// cache; a host that does not trust the cache's key is refused by its
// Nix, and the rollout says why and copies from here (or, with the cache
// required, stops that host); with the cache down the hosts fall back,
// and the report says so.
func TestRolloutFromCacheOnLab(t *testing.T) {
	t.Setenv("NIX_CONFIG", "substituters =")
	start := time.Now()
	l := labtest.StartWith(t, lab.Options{Hosts: 20, Current: 2, Cache: true})
	t.Logf("20-host lab with a cache up in %s", time.Since(start).Round(time.Millisecond))
	o := openOpsLab(t, l)
	sent := &stdinCounter{inner: o.conn, bytes: map[string]*atomic.Int64{}}
	o.eng = fleet.Open(o.f, fleet.Options{Connector: sent})
	t.Cleanup(func() { o.eng.Close() })
	cache, err := l.Cache()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var hosts []string
	for _, h := range l.Hosts {
		hosts = append(hosts, h.Name)
	}
	allAtOnce := func(p *fleet.Plan) { p.Canary, p.Policy.Parallel, p.Policy.Soak = nil, len(hosts), 0 }

	t.Run("20 hosts pull from the cache", func(t *testing.T) {
		b := o.change(t, ctx, "", lab.ChangeOptions{Release: "b"}, hosts...)
		push(t, ctx, cache, b)
		before, beforeBytes := narFetches(t, l)
		sent.reset()
		run, src := deployCollecting(t, ctx, o, b, allAtOnce, hosts...)
		var fromCache int
		for _, h := range hosts {
			s := src[h]
			if got := run.outcomes[h]; got.Outcome != fleet.OutcomeDone || got.ToSystem != b[h] {
				t.Errorf("%s: %+v", h, got)
			}
			if !s.Substituting || s.FromCache == 0 || s.FromOperator != 0 || s.Bytes != 0 || s.Problem != "" {
				t.Errorf("%s: %+v, want every missing path from the cache", h, s)
			}
			fromCache += s.FromCache
		}
		total, most := sent.total(hosts)
		fetched, fetchedBytes := narFetches(t, l)
		fetched, fetchedBytes = fetched-before, fetchedBytes-beforeBytes
		t.Logf("from the cache: %d paths, %d NARs served (%d bytes); from here over SSH: %d bytes of command input in all (at most %d to one host)",
			fromCache, fetched, fetchedBytes, total, most)
		// What goes to a host is the protocol's requests (its closure's
		// paths, asked about twice) and the activation's commands: no NAR.
		if most > 64<<10 {
			t.Errorf("%d bytes sent to one host, want no NAR (< 64 KiB)", most)
		}
		// Each path a host took from the cache is a NAR its Nix fetched.
		if fetched < fromCache || fromCache < len(hosts) {
			t.Errorf("the cache's log shows %d NAR fetches for %d paths from the cache (%d hosts)", fetched, fromCache, len(hosts))
		}
		for _, s := range labStatus(t, l) {
			if s.Current != b[s.Name] {
				t.Errorf("%s runs %s, want %s", s.Name, s.Current, b[s.Name])
			}
		}
	})

	// web01 on Nix 2.8 and the last host on current Nix do not trust the key.
	untrusting := []string{"web01", hosts[len(hosts)-1]}
	if err := l.SetCacheTrust(strings.Join(untrusting, ","), false); err != nil {
		t.Fatal(err)
	}
	t.Run("status says which hosts can use the cache", func(t *testing.T) {
		var nodes []*fleet.Node
		for _, h := range hosts {
			nodes = append(nodes, o.node(t, h))
		}
		for _, s := range fleet.CollectStates(nodes, o.eng.ReadStates(ctx, nodes).All()) {
			want := nix.CacheOK
			if slices.Contains(untrusting, s.Node.Name) {
				want = nix.CacheKeyNotTrusted
			}
			if s.Err != nil || s.CacheErr != nil || s.Cache != want {
				t.Errorf("%s: cache %q (%v, %v), want %q", s.Node.Name, s.Cache, s.CacheErr, s.Err, want)
			}
		}
	})
	t.Run("an untrusting host falls back, or stops when the cache is required", func(t *testing.T) {
		three := []string{untrusting[0], untrusting[1], "web02"}
		c := o.change(t, ctx, strings.Join(three, ","), lab.ChangeOptions{Bump: true}, three...)
		push(t, ctx, cache, c)
		run, src := deployCollecting(t, ctx, o, c, allAtOnce, three...)
		for _, h := range untrusting {
			s := src[h]
			if run.outcomes[h].Outcome != fleet.OutcomeDone || s.Problem != nix.SubstUntrusted || !s.Fallback || s.FromOperator == 0 ||
				s.Bytes == 0 || !strings.Contains(s.Detail, "not signed by any of the keys in 'trusted-public-keys'") {
				t.Errorf("%s: %+v, outcome %+v; want the operator's copy, saying why", h, s, run.outcomes[h])
			}
			t.Logf("%s: %s", h, s.Text())
		}
		if s := src["web02"]; s.Problem != "" || s.FromOperator != 0 {
			t.Errorf("web02 (trusting): %+v", s)
		}

		d := o.change(t, ctx, untrusting[0], lab.ChangeOptions{Bump: true}, untrusting[0])
		push(t, ctx, cache, d)
		run, src = deployCollecting(t, ctx, o, d, func(p *fleet.Plan) { allAtOnce(p); p.CacheRequired = true }, untrusting[0])
		h := untrusting[0]
		got := run.outcomes[h]
		// The outcome's cause is cut; the source event has Nix's line whole.
		if got.Outcome != fleet.OutcomeFailed || !strings.Contains(got.Cause, "the cache is required, and the host's Nix did not substitute") ||
			!strings.Contains(got.Cause, "(untrusted: ") || src[h].Bytes != 0 || src[h].Fallback ||
			!strings.Contains(src[h].Detail, "not signed by any of the keys") {
			t.Errorf("%s with the cache required: %+v, source %+v; want it stopped with Nix's reason", h, got, src[h])
		}
		for _, s := range labStatus(t, l) {
			if s.Name == h && s.Current == d[h] {
				t.Errorf("%s switched to %s without the cache", h, d[h])
			}
		}
	})
	if err := l.SetCacheTrust(strings.Join(untrusting, ","), true); err != nil {
		t.Fatal(err)
	}

	t.Run("a cache that is down: the hosts fall back, and say so", func(t *testing.T) {
		two := []string{"web03", hosts[len(hosts)-2]}
		e := o.change(t, ctx, strings.Join(two, ","), lab.ChangeOptions{Bump: true}, two...)
		push(t, ctx, cache, e)
		if err := l.StopCache(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := l.StartCache(); err != nil {
				t.Error(err)
			}
		}()
		run, src := deployCollecting(t, ctx, o, e, allAtOnce, two...)
		for h := range e {
			s := src[h]
			if run.outcomes[h].Outcome != fleet.OutcomeDone || s.Problem != nix.SubstUnreachable || !s.Fallback || s.FromOperator == 0 {
				t.Errorf("%s: %+v, outcome %+v; want the operator's copy, the cache unreachable", h, s, run.outcomes[h])
			}
			t.Logf("%s: %s", h, s.Text())
		}
	})
}

// deployCollecting is deploy keeping each host's CopySourceEvent.
func deployCollecting(t *testing.T, ctx context.Context, o *opsLab, systems map[string]string, edit func(p *fleet.Plan),
	hosts ...string) (rolloutRun, map[string]fleet.CopySourceEvent) {
	t.Helper()
	src := map[string]fleet.CopySourceEvent{}
	run := o.deployWatching(t, ctx, systems, edit, func(_ *fleet.Rollout, e fleet.Event) {
		if s, ok := e.(fleet.CopySourceEvent); ok {
			src[s.Host()] = s
		}
	}, hosts...)
	return run, src
}

// push pushes the systems' closures to the lab's cache, signed, with
// nix.Push: what a deploy's cache push step runs for systems built here.
func push(t *testing.T, ctx context.Context, c *lab.Cache, systems map[string]string) {
	t.Helper()
	var paths []string
	for _, s := range systems {
		paths = append(paths, s)
	}
	if _, err := nix.Push(ctx, nix.LocalRunner{}, nix.PushRequest{To: c.PushURI, SignKey: c.SecretKey, Paths: paths}); err != nil {
		t.Fatalf("push to the cache: %v", err)
	}
}

// narFetches counts the NARs the cache's server has served, and their
// bytes (compressed, as served).
func narFetches(t *testing.T, l *lab.Lab) (n int, bytes int64) {
	t.Helper()
	fetches, err := l.CacheFetches()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fetches {
		if strings.HasPrefix(f.Path, "/nar/") && f.Status == 200 && f.Method == "GET" {
			n++
			bytes += f.Bytes
		}
	}
	return n, bytes
}

// stdinCounter is a Connector counting the bytes each host's commands
// were given as input over SSH: a copy's requests and NARs go there.
type stdinCounter struct {
	inner fleet.Connector
	mu    sync.Mutex
	bytes map[string]*atomic.Int64
}

func (c *stdinCounter) Runner(ctx context.Context, n *fleet.Node) (nix.Runner, error) {
	r, err := c.inner.Runner(ctx, n)
	return c.wrap(n.Name, r), err
}

func (c *stdinCounter) Fresh(ctx context.Context, n *fleet.Node) (nix.Runner, error) {
	r, err := c.inner.Fresh(ctx, n)
	return c.wrap(n.Name, r), err
}

func (c *stdinCounter) wrap(host string, r nix.Runner) nix.Runner {
	if r == nil {
		return nil
	}
	c.mu.Lock()
	n, ok := c.bytes[host]
	if !ok {
		n = &atomic.Int64{}
		c.bytes[host] = n
	}
	c.mu.Unlock()
	return stdinRunner{r: r, n: n}
}

func (c *stdinCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.bytes {
		n.Store(0)
	}
}

// total returns the bytes sent to hosts, and the most sent to one.
func (c *stdinCounter) total(hosts []string) (all, most int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range hosts {
		if n, ok := c.bytes[h]; ok {
			all += n.Load()
			most = max(most, n.Load())
		}
	}
	return all, most
}

type stdinRunner struct {
	r nix.Runner
	n *atomic.Int64
}

func (c stdinRunner) Run(ctx context.Context, cmd nix.Cmd) error {
	if cmd.Stdin != nil {
		cmd.Stdin = stdinReader{r: cmd.Stdin, n: c.n}
	}
	return c.r.Run(ctx, cmd)
}

type stdinReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c stdinReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
