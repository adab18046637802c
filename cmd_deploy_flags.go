package main

import (
	"errors"
	"fmt"
	"time"

	"nixdeck/fleet"
)

// deployFlags are the rollout policy flags of `nixdeck deploy`. Each one
// that is given overrides the fleet file's deploy block; pointers tell
// "not given" from a zero.
type deployFlags struct {
	Action          string         `placeholder:"ACTION" enum:"switch,boot,test,dry-activate," default:"" help:"switch, boot, test or dry-activate (default deploy.action)."`
	Canary          *string        `placeholder:"SEL" help:"Hosts that go first and must stay healthy through the soak (default deploy.canary; an empty SEL for none)."`
	Batch           string         `placeholder:"N|P%" help:"Hosts per wave after the canary: a count or a percentage (default deploy.batch)."`
	Parallel        *int           `placeholder:"N" help:"Hosts worked on at once (default deploy.parallel)."`
	MaxFailures     *int           `name:"max-failures" placeholder:"N" help:"Failed hosts tolerated before the rollout halts (default deploy.max_failures)."`
	OnFailure       string         `name:"on-failure" placeholder:"WHAT" enum:"halt,rollback-failed,rollback-all," default:"" help:"After a halt: halt, rollback-failed or rollback-all (default deploy.on_failure)."`
	Soak            *time.Duration `placeholder:"D" help:"How long each wave must stay healthy before the next (default deploy.soak)."`
	NoMagicRollback bool           `name:"no-magic-rollback" help:"Do not make hosts roll back by themselves when nixdeck cannot confirm them."`
	ConfirmTimeout  *time.Duration `name:"confirm-timeout" placeholder:"D" help:"How long a host waits for the confirmation before rolling back (default deploy.confirm_timeout)."`
}

// policy is the fleet file's deploy block with the flags given applied,
// and the canary hosts among the selected ones, in fleet order. A flag
// out of its range is a usage error, with the range the fleet file has.
func (fl *deployFlags) policy(f *fleet.Fleet, selected []*fleet.Node) (fleet.Deploy, []*fleet.Node, error) {
	p := f.Deploy
	if fl.Action != "" {
		p.Action = fl.Action
	}
	if fl.Batch != "" {
		b, err := fleet.ParseBatch(fl.Batch)
		if err != nil {
			return p, nil, fmt.Errorf("--batch: %w", err)
		}
		p.Batch = b
	}
	if fl.Parallel != nil {
		if *fl.Parallel < 1 {
			return p, nil, fmt.Errorf("--parallel %d: want 1 or more", *fl.Parallel)
		}
		p.Parallel = *fl.Parallel
	}
	if fl.MaxFailures != nil {
		if *fl.MaxFailures < 0 {
			return p, nil, fmt.Errorf("--max-failures %d: want 0 or more", *fl.MaxFailures)
		}
		p.MaxFailures = *fl.MaxFailures
	}
	if fl.OnFailure != "" {
		p.OnFailure = fl.OnFailure
	}
	if fl.Soak != nil {
		if *fl.Soak < 0 {
			return p, nil, fmt.Errorf("--soak %s: want 0 or more", *fl.Soak)
		}
		p.Soak = *fl.Soak
	}
	if fl.NoMagicRollback {
		p.MagicRollback = false
	}
	if fl.ConfirmTimeout != nil {
		if *fl.ConfirmTimeout < time.Second {
			return p, nil, fmt.Errorf("--confirm-timeout %s: want 1s or more", *fl.ConfirmTimeout)
		}
		p.ConfirmTimeout = *fl.ConfirmTimeout
	}
	canary, err := fl.canary(f, selected)
	return p, canary, err
}

// canary is the canary wave: the hosts --canary (else deploy.canary)
// selects, among those being deployed. A --canary that selects none of
// them is a mistake; the fleet file's canary may lie outside a --on.
func (fl *deployFlags) canary(f *fleet.Fleet, selected []*fleet.Node) ([]*fleet.Node, error) {
	var cands []*fleet.Node
	switch {
	case fl.Canary == nil:
		cands = f.CanaryNodes()
	case *fl.Canary == "":
		return nil, nil
	default:
		var err error
		if cands, err = f.Select(*fl.Canary); err != nil {
			return nil, fmt.Errorf("--canary: %w", err)
		}
	}
	in := map[*fleet.Node]bool{}
	for _, n := range cands {
		in[n] = true
	}
	var out []*fleet.Node
	for _, n := range selected {
		if in[n] {
			out = append(out, n)
		}
	}
	if fl.Canary != nil && len(out) == 0 {
		return nil, errors.New("--canary selects none of the hosts being deployed")
	}
	return out, nil
}
