package fleet

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"nixdeck/nix"
)

// activationHost answers the detached activation's commands: the start,
// then one follow that prints line and ends with status.
func activationHost(line, status string, follows *int) runnerFunc {
	return func(ctx context.Context, c nix.Cmd) error {
		script := c.Argv[2]
		switch {
		case strings.Contains(script, "mkdir -m 0700"):
			return nil
		case strings.Contains(script, "off=$2"):
			*follows++
			io.WriteString(c.Stdout, line+"\n")
			io.WriteString(c.Stderr, "status="+status+"\n")
			return nil
		}
		return fmt.Errorf("unexpected %v", c.Argv)
	}
}

func TestHostRunActivateReportsAndReconnects(t *testing.T) {
	var follows int
	dropping := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		if strings.Contains(c.Argv[2], "off=$2") {
			return fmt.Errorf("web1: %w", nix.ErrConnectionLost)
		}
		return nil
	})
	// The run script's line before switch-to-configuration ends the
	// profile's phase.
	conn := &freshConnector{first: dropping, fresh: activationHost("nixdeck: running switch-to-configuration switch\n"+
		"warning: the following units failed: lab-app.service", "activate 4", &follows)}
	var got nix.ActivateResult
	events := engine(t, conn, 1).RunHosts(context.Background(), "deploy", nodes("web1"), func(ctx context.Context, h *HostRun) error {
		res, err := h.Activate(ctx, nix.Switch, "/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-web1-24.05", time.Minute)
		got = res
		if conn.dials != 1 {
			t.Errorf("%d fresh dials, want 1", conn.dials)
		}
		return err
	})
	var seq []string
	for e := range events.All() {
		switch e := e.(type) {
		case PhaseEvent:
			seq = append(seq, string(e.Phase))
		case LogEvent:
			seq = append(seq, e.Source+":"+e.Line)
		case ActivationEvent:
			seq = append(seq, fmt.Sprintf("%s:%s", e.Action, e.Result.Outcome))
		case DoneEvent:
			seq = append(seq, fmt.Sprintf("done:%v", e.Err))
		}
	}
	want := "queued|connecting|setting profile|activating|activate:warning: the following units failed: lab-app.service|switch:units failed|done|done:<nil>"
	if strings.Join(seq, "|") != want || got.Reconnects != 1 || follows != 1 {
		t.Errorf("events %q (reconnects %d, follows %d), want %q", seq, got.Reconnects, follows, want)
	}
}

// freshConnector hands out first as the pooled runner and fresh on Fresh.
type freshConnector struct {
	first, fresh nix.Runner
	dials        int
}

func (f *freshConnector) Runner(context.Context, *Node) (nix.Runner, error) { return f.first, nil }

func (f *freshConnector) Fresh(context.Context, *Node) (nix.Runner, error) {
	f.dials++
	return f.fresh, nil
}
