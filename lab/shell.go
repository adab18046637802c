package lab

import (
	"errors"
	"fmt"
	"os"
)

// Every lab host's sshd runs its commands through a forced command, the
// host's shell wrapper: it hands the command the client asked for
// ($SSH_ORIGINAL_COMMAND) to the login shell, as sshd would, unless a
// test gave the host a shell of its own with SetShell. That is how a test
// makes a real host misbehave — answer a query with garbage, flood it,
// forge what it reports — over the real sshd and transport. The wrapper
// execs, so the command keeps the session's process (its PID and process
// group), exactly as without it.

// shellWrapper is the forced command; %[1]s is the host name, %[2]s the
// override path inside the host. Both live in the host's /run, where every
// login user can reach them.
const shellWrapper = `#!/bin/sh
# Forced command of nixdeck lab host %[1]s (written by nixdeck lab): runs
# what the client asked for in the login shell, or the test's own shell
# for this host when there is one (lab.SetShell).
if [ -x %[2]s ]; then exec %[2]s; fi
case ${SSH_ORIGINAL_COMMAND-} in
internal-sftp) exec /usr/lib/openssh/sftp-server ;;
esac
if [ -z "${SSH_ORIGINAL_COMMAND+set}" ]; then exec "$SHELL" -l; fi
exec "$SHELL" -c "$SSH_ORIGINAL_COMMAND"
`

// shellOverrideName is the test's shell for the host, when it has one, in
// the host's run/nixdeck-lab.
const shellOverrideName = "shell.override"

// shellPath is the host's shell wrapper.
func (l *Lab) shellPath(name string) string { return l.labRun(name, "shell") }

// shellOverride is the test's shell for the host, seen from outside.
func (l *Lab) shellOverride(name string) string { return l.labRun(name, shellOverrideName) }

// writeShellWrapper writes the host's forced command.
func (l *Lab) writeShellWrapper(name string) error {
	s := fmt.Sprintf(shellWrapper, name, labRunDir+"/"+shellOverrideName)
	return os.WriteFile(l.shellPath(name), []byte(s), 0o755)
}

// SetShell makes the named host answer every SSH command (from the next
// session on) with script, a /bin/sh script that finds the command in
// $SSH_ORIGINAL_COMMAND and may hand it to the host's own shell with
// `exec "$SHELL" -c "$SSH_ORIGINAL_COMMAND"`. With script "" the host
// answers with its own shell again. For tests of hosts that misbehave.
func (l *Lab) SetShell(name, script string) error {
	if _, err := l.host(name); err != nil {
		return err
	}
	p := l.shellOverride(name)
	if script == "" {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("lab host %s: %w", name, err)
		}
		return nil
	}
	// Written aside and renamed: a session starting meanwhile runs either
	// shell whole, never half a script.
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		return fmt.Errorf("lab host %s: %w", name, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("lab host %s: %w", name, err)
	}
	return nil
}
