package fleet

import (
	"errors"

	"nixdeck/fleet/remote"
	"nixdeck/internal/proc"
)

// HostError is the error of one host's work: which host, the step that
// failed ("build", "copy", … or "" when the cause says it) and the cause.
// Every DoneEvent.Err is one, so callers find the host with errors.As
// rather than by reading the message.
type HostError struct {
	Host string
	Step string
	Err  error
}

// Error reads "host: step: cause". A cause from the transport already
// starts by naming the host ("web01 (10.0.0.1:22): dial: …"); it is not
// named twice.
func (e *HostError) Error() string {
	msg := e.Err.Error()
	if e.Step != "" {
		msg = e.Step + ": " + msg
	} else if namesHost(e.Err, e.Host) {
		return msg
	}
	return e.Host + ": " + msg
}

// Unwrap returns the cause.
func (e *HostError) Unwrap() error { return e.Err }

// namesHost reports whether err's message starts with the name of host:
// the SSH client's errors for that host do (its typed errors, a failed
// command's ExitError and OutputLimitError with Host set, and a lost
// connection, a *remote.LostError).
// Only the outermost error counts; a wrapped one has other text before it.
func namesHost(err error, host string) bool {
	switch e := err.(type) {
	case *HostError:
		return e.Host == host
	case *remote.Error:
		return e.Name == host
	case *remote.SudoError:
		return e.Name == host
	case *remote.HostKeyError:
		return e.Name == host
	case *proc.ExitError:
		return e.Host != "" && e.Host == host
	case *proc.OutputLimitError:
		return e.Host != "" && e.Host == host
	case *remote.LostError:
		return e.Name == host
	}
	return false
}

// hostError makes err the *HostError of host, unless it already is.
func hostError(host, step string, err error) error {
	if he, ok := err.(*HostError); ok && he.Host == host && step == "" {
		return err
	}
	return &HostError{Host: host, Step: step, Err: err}
}

// ErrInterrupted marks the error of a host whose work was stopped by the
// operation's cancellation (errors.Is), as opposed to a host that failed.
var ErrInterrupted = errors.New("interrupted")

// interruptedError reads "interrupted" and keeps the error the host's work
// ended with for errors.Is and errors.As.
type interruptedError struct{ cause error }

func (e *interruptedError) Error() string        { return ErrInterrupted.Error() }
func (e *interruptedError) Is(target error) bool { return target == ErrInterrupted }
func (e *interruptedError) Unwrap() error        { return e.cause }
