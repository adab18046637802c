package nix

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// The stages come in order, from the launch and from the run script's
// line before switch-to-configuration, which is not passed on as output
// (a second such line, from switch-to-configuration itself, is).
func TestActivateStages(t *testing.T) {
	dir := "/run/nixdeck/op1"
	f := newFakeRunner(t)
	f.expect("sh", "-c", activateLaunchScript, "sh", dir, sysPath, "switch", "", "nixdeck-op1", "", "").priv()
	f.expect("sh", "-c", activateFollowScript, "sh", dir, "0").priv().
		out(stageSwitchingLine + " switch\nactivating the configuration...\n" + stageSwitchingLine + " switch\n").errout("status=activate 0\n")
	var got []string
	req := ActivateRequest{Action: Switch, Path: sysPath, OpID: "op1",
		Stage: func(s ActivateStage) { got = append(got, []string{"started", "switching"}[s]) },
		Log:   func(l string) { got = append(got, "log: "+l) }}
	res, err := Activate(context.Background(), f, req)
	if err != nil || !res.Started || res.Outcome != OutcomeDone {
		t.Fatalf("Activate() = %+v, %v", res, err)
	}
	want := []string{"started", "switching", "log: activating the configuration...", "log: " + stageSwitchingLine + " switch"}
	if !slices.Equal(got, want) {
		t.Errorf("stages and lines %q, want %q", got, want)
	}
}

// A context that ended before the launch starts nothing; one that ends
// during the launch lets it finish, so the caller learns that the
// activation started.
func TestActivateStartedOrNot(t *testing.T) {
	dir := "/run/nixdeck/op1"
	launch := []string{"sh", "-c", activateLaunchScript, "sh", dir, sysPath, "switch", "", "nixdeck-op1", "", ""}
	t.Run("ended before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res, err := Activate(ctx, newFakeRunner(t), ActivateRequest{Action: Switch, Path: sysPath, OpID: "op1"})
		if !errors.Is(err, ErrNotStarted) || !errors.Is(err, context.Canceled) || res.Started {
			t.Errorf("Activate() = %+v, %v; want not started", res, err)
		}
	})
	t.Run("a launch the host refused", func(t *testing.T) {
		f := newFakeRunner(t)
		f.expect(launch...).priv().errout("activation did not start\n").exit(1)
		res, err := Activate(context.Background(), f, ActivateRequest{Action: Switch, Path: sysPath, OpID: "op1"})
		if !errors.Is(err, ErrNotStarted) || res.Started {
			t.Errorf("Activate() = %+v, %v; want not started", res, err)
		}
	})
	t.Run("ended during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := newFakeRunner(t)
		// The launch sees the cancellation happen while it runs, and
		// still completes.
		r := runnerFunc(func(rctx context.Context, c Cmd) error {
			if slices.Equal(c.Argv, launch) {
				cancel()
				if rctx.Err() != nil {
					t.Error("the launch was cut short")
				}
			}
			return f.Run(rctx, c)
		})
		f.expect(launch...).priv()
		var stages []ActivateStage
		res, err := Activate(ctx, r, ActivateRequest{Action: Switch, Path: sysPath, OpID: "op1",
			Stage: func(s ActivateStage) { stages = append(stages, s) }})
		if errors.Is(err, ErrNotStarted) || !errors.Is(err, context.Canceled) || !res.Started || !slices.Equal(stages, []ActivateStage{StageStarted}) {
			t.Errorf("Activate() = %+v, %v, stages %v; want started, then stopped waiting", res, err, stages)
		}
	})
}
