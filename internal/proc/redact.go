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
	out, _ := redact(argv)
	return out
}

// HideSecrets returns err with the secrets argv holds shown as Redacted
// in its text: a program may repeat one in its error ("opening file
// '/keys/c.sec'"), which ExitError quotes. errors.Is and As still reach
// err; nil stays nil.
func HideSecrets(err error, argv []string) error {
	if err == nil {
		return nil
	}
	if _, secrets := redact(argv); len(secrets) > 0 {
		return hidden{err: err, secrets: secrets}
	}
	return err
}

// hidden is an error whose text leaves its secrets out.
type hidden struct {
	err     error
	secrets []string
}

func (e hidden) Error() string {
	s := e.err.Error()
	for _, v := range e.secrets {
		s = strings.ReplaceAll(s, v, Redacted)
	}
	return s
}

func (e hidden) Unwrap() error { return e.err }

// redact returns argv redacted, and the secret values it held.
func redact(argv []string) ([]string, []string) {
	var out, secrets []string
	for i, a := range argv {
		r, found := redactParams(a)
		if i > 0 && secretFlag(argv[i-1]) || i > 1 && argv[i-2] == "--option" && secretName(argv[i-1]) {
			r, found = Redacted, append(found, a)
		}
		for _, v := range found {
			if v != "" {
				secrets = append(secrets, v)
			}
		}
		if r != a && out == nil {
			out = append(make([]string, 0, len(argv)), argv[:i]...)
		}
		if out != nil {
			out = append(out, r)
		}
	}
	if out == nil {
		return argv, secrets
	}
	return out, secrets
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
// (after '?', split at '&' as Nix splits it), and returns their values.
func redactParams(a string) (string, []string) {
	base, query, ok := strings.Cut(a, "?")
	if !ok {
		return a, nil
	}
	params := strings.Split(query, "&")
	var found []string
	for i, p := range params {
		if name, v, ok := strings.Cut(p, "="); ok && secretName(name) {
			params[i], found = name+"="+Redacted, append(found, v)
		}
	}
	if found == nil {
		return a, nil
	}
	return base + "?" + strings.Join(params, "&"), found
}
