package fleet_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"nixdeck/nix"
)

// TestHostStateScriptOnLab runs the state script on a real lab host, in
// the shells NixOS and Debian give it (bash, also in POSIX mode, and
// dash), and holds what it reports against what coreutils report; then
// it reads the host's locks as they change.
func TestHostStateScriptOnLab(t *testing.T) {
	o := startOpsLab(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	host := o.lab.Hosts[0].Name

	t.Run("every shell reports what coreutils report", func(t *testing.T) {
		// A second generation with a time of its own.
		o.exec(t, ctx, host, `cd /nix/var/nix/profiles && ln -s "$(readlink system-1-link)" system-2-link && touch -h -d @1718438400 system-2-link`)
		defer o.exec(t, ctx, host, `rm -f /nix/var/nix/profiles/system-2-link`)
		script := nix.HostStateCmd().Argv[2]
		var states []*nix.HostState
		for _, sh := range [][]string{{"dash"}, {"bash"}, {"bash", "--posix"}} {
			out, err := o.lab.Exec(ctx, host, append(sh, "-c", script), nil)
			if err != nil {
				t.Fatal(err)
			}
			s, err := nix.ParseHostState(string(out))
			if err != nil {
				t.Fatalf("%s: %v", sh, err)
			}
			states = append(states, s)
		}
		states = append(states, o.state(t, ctx, host)) // over SSH, in the host's sh
		for _, s := range states {
			s.Uptime = states[0].Uptime
		}
		for i, s := range states[1:] {
			if !reflect.DeepEqual(s, states[0]) {
				t.Errorf("state %d differs from dash's:\n%+v\n%+v", i+1, s, states[0])
			}
		}
		s := states[0]
		ref := func(cmd string) string {
			out, err := o.lab.Exec(ctx, host, []string{"sh", "-c", cmd}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return string(out)
		}
		links := strings.Fields(ref(`readlink -f /run/current-system /run/booted-system /nix/var/nix/profiles/system /run/booted-system/kernel /run/booted-system/initrd /run/booted-system/kernel-modules`))
		created, _ := strconv.ParseInt(strings.TrimSpace(ref(`stat -c %Y /nix/var/nix/profiles/system-1-link`)), 10, 64)
		want := []string{s.Current, s.Booted, s.Profile, s.BootedSpec.Kernel, s.BootedSpec.Initrd, s.BootedSpec.KernelModules}
		if !reflect.DeepEqual(links, want) || s.ProfileGeneration != 1 || len(s.Generations) != 2 ||
			s.Generations[0].Path != s.Current || !s.Generations[0].Created.Equal(time.Unix(created, 0)) ||
			s.Generations[1].Path != s.Current || !s.Generations[1].Created.Equal(time.Unix(1718438400, 0)) {
			t.Errorf("links %q, want %q; generations %+v (system-1-link made at %d)", links, want, s.Generations, created)
		}
		if s.BootedSpec != s.ProfileSpec || s.BootedSpec.KernelParams != ref(`cat /run/booted-system/kernel-params`) ||
			s.Hostname != strings.TrimSpace(ref(`cat /proc/sys/kernel/hostname`)) || s.Version != ref(`cat /run/current-system/nixos-version`) ||
			s.Uptime <= 0 || s.Ignored != nil || s.Missing != nil || s.RebootNeeded {
			t.Errorf("state %+v", s)
		}
	})

	t.Run("nixdeck's lock is its directory", func(t *testing.T) {
		const line = "alice@laptop pid=4242 op=deploy-20240701T100000-3f2a9c since=2024-07-01T10:00:00Z"
		defer o.exec(t, ctx, host, `rm -rf /run/nixdeck/lock`)
		for _, tt := range []struct{ name, setup, want, ignored string }{
			{"no directory", `rm -rf /run/nixdeck/lock`, "free", ""},
			{"taken, owner not yet written", `mkdir -p /run/nixdeck/lock`, "held (owner not yet written)", ""},
			{"owner written", `printf '%s\n' "$1" > /run/nixdeck/lock/owner.tmp && mv /run/nixdeck/lock/owner.tmp /run/nixdeck/lock/owner`, "held by " + line, ""},
			{"owner that would retitle the terminal", `printf 'a@\033]0;pwned\007 pid=1 op=x since=2024-07-01T10:00:00Z' > /run/nixdeck/lock/owner`, "held (owner not valid)", "is not user@machine"},
			// A FIFO would block a reader that opened it: it is not read.
			{"owner a FIFO", `rm /run/nixdeck/lock/owner && mkfifo /run/nixdeck/lock/owner`, "held (owner not valid)", "is not"},
			{"owner a link", `rm /run/nixdeck/lock/owner && ln -s /etc/hostname /run/nixdeck/lock/owner`, "held (owner not valid)", "is not"},
			{"a file in the directory's place", `rm -rf /run/nixdeck/lock && echo "$1" > /run/nixdeck/lock`, "?", "not a directory"},
		} {
			o.exec(t, ctx, host, tt.setup, line)
			s := o.state(t, ctx, host)
			var reasons []string
			for _, i := range s.Ignored {
				reasons = append(reasons, i.Entry+": "+i.Reason)
			}
			if s.NixdeckLock.String() != tt.want || len(reasons) != min(len(tt.ignored), 1) ||
				tt.ignored != "" && !strings.Contains(reasons[0], tt.ignored) {
				t.Errorf("%s: nixdeck lock %q, ignored %q; want %q, ignored %q", tt.name, s.NixdeckLock, reasons, tt.want, tt.ignored)
			}
		}
	})

	t.Run("switch-to-configuration's lock held", func(t *testing.T) {
		const lock = nix.SwitchLockPath
		o.exec(t, ctx, host, `mkdir -p /run/nixos && : > `+lock+` && rm -f /run/held && mkfifo /run/held`)
		if s := o.state(t, ctx, host); s.SwitchLock.String() != "free" {
			t.Errorf("switch lock %q with no holder", s.SwitchLock)
		}
		// The holder takes the lock, says so through the FIFO (whose
		// reader waits for it), and keeps it until its stdin closes.
		release, hold := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := o.lab.Exec(ctx, host, []string{"flock", lock, "sh", "-c", "echo > /run/held; exec cat"}, release)
			done <- err
		}()
		o.exec(t, ctx, host, `read x < /run/held`)
		s := o.state(t, ctx, host)
		hold.Close()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		if s.SwitchLock.String() != "held" {
			t.Errorf("switch lock %q while flock holds it", s.SwitchLock)
		}
		if s := o.state(t, ctx, host); s.SwitchLock.String() != "free" {
			t.Errorf("switch lock %q after its holder left", s.SwitchLock)
		}
	})
}
