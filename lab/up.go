package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Up starts a fresh lab in opts.Dir: an operator key, one sshd per host in
// its own mount namespace, generation 1 of every host's system built with
// one `nix build` and installed into each host's store, then the fleet
// file and known_hosts. A lab already in Dir is taken down first. On error
// Up leaves nothing running.
func Up(ctx context.Context, opts Options) (*Lab, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		opts.Dir = DefaultDir()
	}
	if opts.Hosts == 0 {
		opts.Hosts = 6
	}
	if opts.Hosts < 1 || opts.Hosts > 500 {
		return nil, fmt.Errorf("lab: --hosts must be between 1 and 500, not %d", opts.Hosts)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	current, err := CurrentHosts(opts)
	if err != nil {
		return nil, err
	}
	if opts.Cache {
		if err := checkNginx(); err != nil {
			return nil, err
		}
	}
	l := newLab(dir, allHosts(opts))
	// The root comes first: its build may take minutes or fail, and the
	// lab already in dir keeps running meanwhile.
	if err := l.useRoot(ctx, current, opts.Progress); err != nil {
		return nil, err
	}
	// Whatever ran in dir before goes down, even without its manifest.
	old, err := Open(dir)
	if err != nil {
		old = newLab(dir, nil)
	}
	if err := old.Down(ctx); err != nil {
		return nil, fmt.Errorf("lab: taking down the lab already in %s: %w", dir, err)
	}
	if err := l.up(ctx, opts.Cache, newProgress(opts.Progress)); err != nil {
		return nil, errors.Join(err, l.Down(context.WithoutCancel(ctx)))
	}
	return l, nil
}

// allHosts names the hosts opts asks for: the nodes, then the builders.
func allHosts(opts Options) []Host {
	return append(makeHosts(opts.Hosts), makeBuilders(opts.Builders)...)
}

// makeHosts names n hosts: the canary first, then web and db hosts in turn.
func makeHosts(n int) []Host {
	hosts := make([]Host, n)
	web, db := 0, 0
	for i := range hosts {
		switch {
		case i == 0:
			hosts[i] = Host{Name: "canary", Tags: []string{"canary"}}
		case i%2 == 1:
			web++
			hosts[i] = Host{Name: fmt.Sprintf("web%02d", web), Tags: []string{"web"}}
		default:
			db++
			hosts[i] = Host{Name: fmt.Sprintf("db%02d", db), Tags: []string{"db"}}
		}
	}
	return hosts
}

// role is the service set of a host: db hosts run postgresql, the others nginx.
func role(h Host) string {
	for _, t := range h.Tags {
		if t == "db" {
			return "db"
		}
	}
	return "web"
}

// up does Up's work on a fresh Lab value.
func (l *Lab) up(ctx context.Context, withCache bool, progress func(format string, args ...any)) error {
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return err
	}
	// A previous lab's trees go to the trash at once and are removed while
	// this one comes up: deleting thousands of store files is slow.
	trash, err := os.MkdirTemp(l.Dir, ".trash-")
	if err != nil {
		return err
	}
	for _, sub := range []string{"hosts", "base", "flake", "cache", "cache-server", cacheManifestName} {
		if err := os.Rename(filepath.Join(l.Dir, sub), filepath.Join(trash, sub)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	removed := make(chan error, 1)
	go func() { removed <- removeTrash(l.Dir) }()
	if err := l.writeOperatorKey(); err != nil {
		return err
	}
	if err := l.writeFlake(); err != nil {
		return err
	}
	if err := l.writeHealthd(); err != nil {
		return err
	}
	var cache *Cache
	if withCache {
		if cache, err = l.createCache(ctx); err != nil {
			return err
		}
		progress("binary cache served at %s", cache.URL)
	}
	st := &flakeState{Hosts: map[string]*hostConfig{}}
	names := make([]string, len(l.Hosts))
	for i, h := range l.Hosts {
		st.Hosts[h.Name] = &hostConfig{Role: role(h), Release: "a"}
		names[i] = h.Name
	}
	if err := l.writeState(st); err != nil {
		return err
	}
	if err := l.prepareNSDir(); err != nil {
		return err
	}

	// The build is the long pole; the hosts come up meanwhile.
	var systems map[string]string
	var buildErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		systems, buildErr = l.Build(ctx, names)
		progress("%d systems built", len(names))
	}()
	uid, err := deployID(l.etcDirs())
	if err != nil {
		return err
	}
	err = forEach(ctx, len(l.Hosts), 4, func(i int) error {
		port, err := l.bootHost(ctx, l.Hosts[i], uid, cache)
		l.Hosts[i].Port = port
		return err
	})
	progress("%d hosts booted (namespace, sshd)", len(l.Hosts))
	wg.Wait()
	if err := errors.Join(err, buildErr); err != nil {
		return err
	}
	all := make([]string, 0, len(systems))
	for _, p := range systems {
		all = append(all, p)
	}
	reg, err := loadRegistry(ctx, all)
	if err != nil {
		return err
	}
	base, err := l.writeBase(reg, all)
	if err != nil {
		return err
	}
	if err := forEach(ctx, len(l.Hosts), 6, func(i int) error {
		if err := l.install(ctx, names[i], systems[names[i]], reg, base); err != nil {
			return err
		}
		port, err := l.startServices(ctx, names[i])
		l.Hosts[i].HealthPort = port
		return err
	}); err != nil {
		return err
	}
	progress("generation 1 installed on %d hosts", len(l.Hosts))
	if err := <-removed; err != nil {
		return fmt.Errorf("lab: removing the previous lab's files: %w", err)
	}
	if err := l.writeKnownHosts(); err != nil {
		return err
	}
	if err := l.writeFleetFile(); err != nil {
		return err
	}
	return l.save()
}

// removeTrash deletes the .trash-* directories in dir.
func removeTrash(dir string) error {
	old, err := filepath.Glob(filepath.Join(dir, ".trash-*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range old {
		errs = append(errs, os.RemoveAll(t))
	}
	return errors.Join(errs...)
}

// writeOperatorKey writes the lab's operator key pair and authorizes it on
// every host.
func (l *Lab) writeOperatorKey() error {
	pub, err := writeKeyPair(filepath.Join(l.Dir, "id_ed25519"), "nixdeck-lab-operator")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(l.Dir, "authorized_keys"), []byte(pub+"\n"), 0o644)
}

// bootHost creates the host's trees, host key, users and namespace and
// starts its sshd; it returns the sshd port. uid is the deploy user's.
func (l *Lab) bootHost(ctx context.Context, h Host, uid int, cache *Cache) (int, error) {
	name, hd := h.Name, l.hostDir(h.Name)
	dirs := []string{"nix/store", "nix-work", "nix/var/nixdeck-lab", "run/sshd", "run/nixos", "run/nixdeck-lab", "run/log/journal", "etc/nix"}
	if h.Root != "" {
		dirs = append(dirs, "rootfs")
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(hd, d), 0o755); err != nil {
			return 0, err
		}
	}
	if err := os.MkdirAll(filepath.Join(hd, "home"), 0o700); err != nil {
		return 0, err
	}
	if _, err := writeKeyPair(filepath.Join(hd, "ssh_host_ed25519_key"), "root@"+name); err != nil {
		return 0, err
	}
	// Logins read this as the user logging in: the host's /run holds a
	// copy that the deploy user can reach.
	keys, err := os.ReadFile(filepath.Join(l.Dir, "authorized_keys"))
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(l.labRun(name, "authorized_keys"), keys, 0o644); err != nil {
		return 0, err
	}
	if err := l.writeNixConf(h, cache); err != nil {
		return 0, err
	}
	if err := l.writeUserFiles(h, uid); err != nil {
		return 0, err
	}
	if err := l.writeHostEnv(name, 0); err != nil {
		return 0, err
	}
	if err := l.createNS(ctx, h); err != nil {
		return 0, err
	}
	return l.startSSHD(ctx, name, 0)
}

// newProgress returns a function that writes a progress line with the time
// since Up started to w; with w nil it does nothing.
func newProgress(w io.Writer) func(format string, args ...any) {
	start := time.Now()
	var mu sync.Mutex
	return func(format string, args ...any) {
		if w == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "lab: %s (%.1fs)\n", fmt.Sprintf(format, args...), time.Since(start).Seconds())
	}
}

// forEach runs fn(0..n-1) with at most workers at a time and joins the errors.
func forEach(ctx context.Context, n, workers int, fn func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
