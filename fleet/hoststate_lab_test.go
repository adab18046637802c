package fleet_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/internal/proctest"
	"nixdeck/nix"
)

// TestHostStateOnLab reads the state of real lab hosts that misbehave: a
// profiles directory with strange entries, a missing /run/current-system,
// and (through the lab's test-controlled shell) hosts that flood, forge
// or garble their answer. Each marks only what is wrong, names the host,
// and leaves the other hosts' states whole.
func TestHostStateOnLab(t *testing.T) {
	o := startMixedOpsLab(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gen1 := o.state(t, ctx, "web01").Current

	t.Run("strange profile entries", func(t *testing.T) {
		// Real files on the host: a name that is not a number, one out of
		// range, a file that is not a link, a link off the store, a link
		// whose target and one whose name carry a newline and a record.
		setup := `cd /nix/var/nix/profiles
ln -s "$1" system-abc-link
ln -s "$1" system-99999999999999999999-link
echo x > system-7-link
ln -s /etc/passwd system-2-link
ln -s "$(printf '%s\nentry=system-9-link' "$1")" system-8-link
ln -s "$1" "$(printf 'system-5\nentry=system-6-link')"
`
		o.exec(t, ctx, "web01", setup, gen1)
		defer o.exec(t, ctx, "web01", `cd /nix/var/nix/profiles && rm -f system-abc-link system-99999999999999999999-link system-7-link system-2-link system-8-link system-5?entry=system-6-link`)
		s := o.state(t, ctx, "web01")
		if len(s.Generations) != 1 || s.Generations[0].Number != 1 || s.ProfileGeneration != 1 || s.Current != gen1 {
			t.Errorf("generations %+v, profile %d: want generation 1 alone", s.Generations, s.ProfileGeneration)
		}
		want := map[string]string{
			"system-abc-link":                  "not a plain decimal",
			"system-99999999999999999999-link": "out of range",
			"system-7-link":                    "not a symbolic link",
			"system-2-link":                    "not in /nix/store",
			"system-8-link":                    "not a store object",
			"system-5\nentry=system-6-link":    "not a plain decimal",
		}
		for _, i := range s.Ignored {
			if r, ok := want[i.Entry]; !ok || !strings.Contains(i.Reason, r) {
				t.Errorf("ignored %q: %q", i.Entry, i.Reason)
			}
			delete(want, i.Entry)
		}
		if len(want) > 0 {
			t.Errorf("not marked: %q", want)
		}
		// A rollback picks its target from the sound generations only.
		if g, err := nix.RollbackTarget(s, 0); err == nil {
			t.Errorf("rollback target %+v below the only generation", g)
		}
	})

	t.Run("missing current-system", func(t *testing.T) {
		o.exec(t, ctx, "db01", "mv /run/current-system /run/current-system.away")
		defer o.exec(t, ctx, "db01", "mv /run/current-system.away /run/current-system")
		s := o.state(t, ctx, "db01")
		if !slices.Equal(s.Missing, []string{nix.CurrentSystemLink}) || s.Current != "" || s.Booted == "" || s.Profile == "" {
			t.Errorf("missing %q, current %q, booted %q, profile %q", s.Missing, s.Current, s.Booted, s.Profile)
		}
	})

	t.Run("a host that floods its answer", func(t *testing.T) {
		marker := fmt.Sprintf("1073741%03d", rand.IntN(1000)) // about 1 GiB
		o.shell(t, "canary", `case $SSH_ORIGINAL_COMMAND in
*profile_link*) exec head -c `+marker+` /dev/zero ;;
esac
exec "$SHELL" -c "$SSH_ORIGINAL_COMMAND"
`)
		peak := proctest.WatchHeap()
		start := time.Now()
		sts := o.states(t, ctx, "canary", "web01", "db01")
		if p := peak(); p > 256<<20 {
			t.Errorf("heap peaked at %d MiB while a host sent 1 GiB", p>>20)
		}
		if d := time.Since(start); d > time.Minute {
			t.Errorf("reading took %v", d)
		}
		want := "canary: read host state: canary sent more than 1 MiB of output for host state script"
		if err := sts[0].Err; err == nil || err.Error() != want {
			t.Errorf("flooding host: %v, want %q", err, want)
		}
		for _, s := range sts[1:] {
			if s.Err != nil || s.State.ProfileGeneration != 1 {
				t.Errorf("%s beside the flooding host: %+v", s.Node.Name, s)
			}
		}
		proctest.AssertGone(t, marker, 10*time.Second)
	})

	t.Run("a host that forges its records", func(t *testing.T) {
		o.shell(t, "canary", `case $SSH_ORIGINAL_COMMAND in
*profile_link*) printf 'find=1\000hostname=canary\000current=/etc\000profile_link=system-3-link\000entry=system-3-link\000entry_time=-5\000entry_path=`+gen1+`\000uptime=NaN\000end=1\000' ;;
*) exec "$SHELL" -c "$SSH_ORIGINAL_COMMAND" ;;
esac
`)
		s := o.states(t, ctx, "canary")[0]
		if s.Err != nil {
			t.Fatal(s.Err)
		}
		var got []string
		for _, i := range s.State.Ignored {
			got = append(got, i.Entry)
		}
		if s.State.Current != "" || len(s.State.Generations) != 0 || s.State.Uptime != 0 ||
			!slices.Equal(got, []string{nix.CurrentSystemLink, "system-3-link", "/proc/uptime"}) {
			t.Errorf("forged state taken: %+v", s.State)
		}
	})

	t.Run("a host that garbles its answer", func(t *testing.T) {
		o.shell(t, "canary", `echo "garbage
end=1"`)
		s := o.states(t, ctx, "canary")[0]
		want := `canary: read host state: host state output incomplete (no end marker) after 14 bytes`
		if s.Err == nil || s.Err.Error() != want {
			t.Errorf("garbled answer: %v, want %q", s.Err, want)
		}
	})
}

// exec runs a sh script (with args) on a lab host, as root in its namespace.
func (o *opsLab) exec(t *testing.T, ctx context.Context, host, script string, args ...string) {
	t.Helper()
	if out, err := o.lab.Exec(ctx, host, append([]string{"sh", "-c", script, "sh"}, args...), nil); err != nil {
		t.Fatalf("%s: %v: %s", host, err, out)
	}
}

// shell gives a lab host a test shell for the rest of the test.
func (o *opsLab) shell(t *testing.T, host, script string) {
	t.Helper()
	if err := o.lab.SetShell(host, script); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.lab.SetShell(host, "") })
}

// states reads the states of hosts over SSH, in one ReadStates run.
func (o *opsLab) states(t *testing.T, ctx context.Context, hosts ...string) []fleet.HostStatus {
	t.Helper()
	var nodes []*fleet.Node
	for _, h := range hosts {
		nodes = append(nodes, o.node(t, h))
	}
	return fleet.CollectStates(nodes, o.eng.ReadStates(ctx, nodes).All())
}
