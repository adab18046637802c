package fleet

import (
	"errors"
	"fmt"
	"testing"

	"nixdeck/fleet/remote"
	"nixdeck/internal/proc"
)

// A HostError names its host once: the SSH client's errors already start
// with it, a local command's or a wrapped error's do not.
func TestHostErrorNamesHostOnce(t *testing.T) {
	lost := &remote.LostError{Name: "web1", Addr: "10.0.0.1:22", What: "run", Detail: "EOF"}
	for _, c := range []struct {
		err  error
		want string
	}{
		{&remote.Error{Name: "web1", Addr: "10.0.0.1:22", Op: "dial", Err: errors.New("refused")}, "web1 (10.0.0.1:22): dial: refused"},
		{&proc.ExitError{Host: "web1", Argv: []string{"false"}, Code: 1}, "web1: false: exit status 1"},
		{&proc.ExitError{Argv: []string{"false"}, Code: 1}, "web1: false: exit status 1"},
		{&proc.OutputLimitError{Host: "web1", Argv: []string{"cat"}, Limit: 1024}, "web1 sent more than 1 KiB of output for cat"},
		{lost, "web1 (10.0.0.1:22): run: connection lost: EOF"},
		{fmt.Errorf("web10: run: %w", proc.ErrConnectionLost), "web1: web10: run: connection lost"},
		// A message that merely starts with the host's name is not trusted to name it.
		{fmt.Errorf("web1: run: %w", proc.ErrConnectionLost), "web1: web1: run: connection lost"},
		{&remote.LostError{Name: "web10", What: "run", Detail: "EOF"}, "web1: web10: run: connection lost: EOF"},
		{fmt.Errorf("copy: %w", &proc.ExitError{Host: "web1", Argv: []string{"false"}, Code: 1}), "web1: copy: web1: false: exit status 1"},
	} {
		if got := (&HostError{Host: "web1", Err: c.err}).Error(); got != c.want {
			t.Errorf("HostError{%v} = %q, want %q", c.err, got, c.want)
		}
	}
}
