package proc

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNUL marks an argument that holds a NUL byte. No argv can carry one
// (execve takes C strings, and a remote shell's command line ends at the
// first NUL), so quoting one would run a different command than asked: a
// word cut short, or a quote left open. The quoters refuse it instead.
var ErrNUL = errors.New("argument holds a NUL byte, which no command line can carry")

// ShellQuote quotes s as one word for a POSIX shell: a plain word stays as
// it is, anything else is single-quoted. It refuses a NUL byte (ErrNUL).
func ShellQuote(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", ErrNUL
	}
	return quote(s), nil
}

// ShellJoin quotes argv for a POSIX shell, one word per element, for a
// command line a shell will run. It refuses an element with a NUL byte,
// naming which one.
func ShellJoin(argv []string) (string, error) {
	if err := checkNUL(argv); err != nil {
		return "", err
	}
	return join(argv), nil
}

// checkNUL names the first element of argv that holds a NUL byte.
func checkNUL(argv []string) error {
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("%s: argument %d: %w", Format(argv), i, ErrNUL)
		}
	}
	return nil
}

// Format renders argv as an operator would type it, for messages and logs
// (never for a shell to run: use ShellJoin). It quotes as ShellJoin does,
// with secrets Redacted (see Redact); a NUL byte, which ShellJoin
// refuses, shows as ␀ so a message about it does not put one on a terminal.
func Format(argv []string) string {
	return join(Redact(argv))
}

// join quotes each element of argv, showing a NUL byte as ␀.
func join(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quote(strings.ReplaceAll(a, "\x00", "␀")))
	}
	return b.String()
}

// quote leaves plain words alone and single-quotes anything else.
func quote(s string) string {
	if s == "" {
		return "''"
	}
	if strings.IndexFunc(s, unsafeRune) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// unsafeRune reports runes a shell might interpret.
func unsafeRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@+,%^", r))
}
