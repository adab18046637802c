package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// TestCopySourceReported copies a rollout's way (nixSteps.copy) to chroot
// stores substituting from a signed cache over HTTP: one trusts its key
// and gets everything from it, one does not and gets the closure from
// us with the reason reported, one does not while the cache is required
// and fails naming Nix's reason, with nothing sent.
func TestCopySourceReported(t *testing.T) {
	needNixRoot(t)
	sys := nixtest.SizedClosure(t, 3, 20<<10)
	cache := nixtest.ServeCache(t, sys)
	runners, roots := map[string]nix.Runner{}, map[string]string{}
	for name, key := range map[string]string{"trusting": cache.PublicKey, "refusing": cache.OtherKey(), "required": cache.OtherKey()} {
		r, root := chrootStore(t)
		r.Env = append(r.Env, nixtest.SubstituteEnv(t, cache.URL, key)...)
		runners[name], roots[name] = r, root
	}
	eng := engine(t, fakeConnector{runners: runners}, 3)
	ns := nodes("trusting", "refusing", "required")
	for _, n := range ns {
		n.SubstituteOnDestination = true
	}
	sources := map[string]CopySourceEvent{}
	errs := map[string]error{}
	for e := range eng.RunHosts(context.Background(), "copy", ns, func(ctx context.Context, h *HostRun) error {
		return nixSteps{}.copy(ctx, []copyJob{{h: h, system: sys, cacheRequired: h.Node.Name == "required"}})[0]
	}).All() {
		switch e := e.(type) {
		case CopySourceEvent:
			sources[e.Host()] = e
		case DoneEvent:
			errs[e.Host()] = e.Err
		}
	}
	got := func(h string) string {
		s := sources[h]
		return fmt.Sprintf("cache %d, operator %d, problem %q, fallback %v, sent %v", s.FromCache, s.FromOperator, s.Problem, s.Fallback, s.Bytes > 0)
	}
	for h, want := range map[string]string{
		"trusting": `cache 4, operator 0, problem "", fallback false, sent false`,
		"refusing": `cache 0, operator 4, problem "untrusted", fallback true, sent true`,
		"required": `cache 0, operator 4, problem "untrusted", fallback false, sent false`,
	} {
		if g := got(h); g != want {
			t.Errorf("%s: %s, want %s", h, g, want)
		}
	}
	var ce *nix.CacheError
	if err := errs["required"]; !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), "required: ") ||
		!strings.Contains(err.Error(), "not signed by any of the keys in 'trusted-public-keys'") {
		t.Errorf("required: %v, want the host's CacheError", err)
	}
	if errs["trusting"] != nil || errs["refusing"] != nil {
		t.Errorf("errors %v", errs)
	}
	for h, want := range map[string]bool{"trusting": true, "refusing": true, "required": false} {
		if _, err := os.Stat(roots[h] + sys); (err == nil) != want {
			t.Errorf("%s: system in its store: %v, want %v", h, err == nil, want)
		}
	}
}
