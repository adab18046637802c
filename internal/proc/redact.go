package proc

import "strings"

// A command line can name a secret: a push to a binary cache gives Nix
// its signing key in the store URI (`file:///c?secret-key=/keys/c.sec`),
// `nix store sign` takes `--key-file`. The command runs with it; every
// rendering of an argv for people or records (Format, so errors and
// logs; command events through Redact) shows "<redacted>" instead, so
// the key's path never reaches a log, a history record or a terminal.

// Redacted replaces a secret's value in a rendered command line.
const Redacted = "<redacted>"

// Redact returns argv as it may be shown or recorded: the value of any
// store URI parameter naming a secret (secret-key=, ssh-key=, …), the
// argument after --key-file or a --…secret… flag, and the value of an
// --option naming a secret are Redacted. An argv without any is
// returned as it is, not copied.
func Redact(argv []string) []string {
	var out []string
	for i, a := range argv {
		r := redactParams(a)
		if i > 0 && secretFlag(argv[i-1]) || i > 1 && argv[i-2] == "--option" && secretName(argv[i-1]) {
			r = Redacted
		}
		if r != a && out == nil {
			out = append(make([]string, 0, len(argv)), argv[:i]...)
		}
		if out != nil {
			out = append(out, r)
		}
	}
	if out == nil {
		return argv
	}
	return out
}

// secretFlag reports a flag whose next argument is a secret (a key file).
func secretFlag(a string) bool {
	name, ok := strings.CutPrefix(a, "--")
	return ok && (name == "key-file" || secretName(name))
}

// secretName reports a setting or URI parameter that names a secret.
func secretName(name string) bool {
	name = strings.ToLower(name)
	for _, s := range []string{"secret", "password", "token", "ssh-key"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// redactParams redacts the secret parameters of a store URI's query
// (after '?', split at '&' as Nix splits it).
func redactParams(a string) string {
	base, query, ok := strings.Cut(a, "?")
	if !ok {
		return a
	}
	params := strings.Split(query, "&")
	changed := false
	for i, p := range params {
		if name, _, ok := strings.Cut(p, "="); ok && secretName(name) {
			params[i], changed = name+"="+Redacted, true
		}
	}
	if !changed {
		return a
	}
	return base + "?" + strings.Join(params, "&")
}
