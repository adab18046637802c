package remote

import "strings"

// The transport quotes argv itself rather than importing package nix: it
// sits below nix in the dependency graph and must build on its own. The
// rules are the same as nix.ShellQuote's.

// shellJoin quotes argv for the remote POSIX shell.
func shellJoin(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shellQuote(a))
	}
	return b.String()
}

// shellQuote leaves plain words alone and single-quotes anything else.
func shellQuote(s string) string {
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
