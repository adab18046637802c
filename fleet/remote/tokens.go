package remote

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The %-tokens of ssh_config(5), section TOKENS, as OpenSSH 9.2 expands
// them in IdentityFile: %u is the LOCAL user running ssh and %r the
// REMOTE login user — easy to swap, and a swap picks the wrong key file
// whenever the two differ. Newer tokens (%j, OpenSSH 9.6) are refused
// like any unknown token, as OpenSSH refuses them, rather than kept as
// literal text that names a file nobody has.

// tokenFunc yields one token's value; it may fail (no home directory, no
// passwd entry), and runs only when the value uses the token.
type tokenFunc func() (string, error)

// expandTokens replaces the %-tokens of an ssh_config value in one pass,
// so that no substituted text is substituted again. %% is a literal %; a
// token missing from tokens, or a lone % at the end, is an error.
func expandTokens(value string, tokens map[byte]tokenFunc) (string, error) {
	var b strings.Builder
	for i := 0; i < len(value); i++ {
		if value[i] != '%' {
			b.WriteByte(value[i])
			continue
		}
		i++
		if i == len(value) {
			return "", fmt.Errorf("%% at the end (write %%%% for a literal %%)")
		}
		if value[i] == '%' {
			b.WriteByte('%')
			continue
		}
		f := tokens[value[i]]
		if f == nil {
			r, _ := utf8.DecodeRuneInString(value[i:])
			return "", fmt.Errorf("unknown token %%%c", r)
		}
		s, err := f()
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// hostNameTokens are the tokens HostName accepts: %h is the host name as
// given (the fleet file's host), before HostName applies.
func hostNameTokens(alias string) map[byte]tokenFunc {
	return map[byte]tokenFunc{'h': constToken(alias)}
}

// pathTokens are the tokens of IdentityFile and the other file keywords,
// for e once HostName, Port and User are resolved. alias is the host as
// the fleet file names it (%n), hostKeyAlias ssh_config's HostKeyAlias.
// home and homeErr are HomeDir's result: %d is $HOME, as everywhere in
// nixdeck, where OpenSSH reads the passwd entry.
func (e *endpoint) pathTokens(alias, hostKeyAlias, home string, homeErr error) map[byte]tokenFunc {
	port := strconv.Itoa(e.port)
	if hostKeyAlias == "" {
		hostKeyAlias = alias
	}
	return map[byte]tokenFunc{
		'C': func() (string, error) {
			l, err := localHostName()
			if err != nil {
				return "", err
			}
			sum := sha1.Sum([]byte(l + e.host + port + e.user))
			return hex.EncodeToString(sum[:]), nil
		},
		'd': func() (string, error) {
			if homeErr != nil {
				return "", fmt.Errorf("cannot find the home directory: %v", homeErr)
			}
			return home, nil
		},
		'h': constToken(e.host),
		'i': constToken(strconv.Itoa(os.Getuid())),
		'k': constToken(hostKeyAlias),
		'L': func() (string, error) {
			l, err := localHostName()
			short, _, _ := strings.Cut(l, ".")
			return short, err
		},
		'l': localHostName,
		'n': constToken(alias),
		'p': constToken(port),
		'r': constToken(e.user),
		'u': localUserName,
	}
}

// constToken is a token whose value is known.
func constToken(s string) tokenFunc { return func() (string, error) { return s, nil } }

// localHostName is this machine's host name as the kernel reports it (%l).
func localHostName() (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("local host name: %w", err)
	}
	return h, nil
}

// localUserName is the name of the user running nixdeck (%u), from the
// passwd entry of the real uid as OpenSSH takes it, not from $USER.
func localUserName() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("local user name: %w", err)
	}
	return u.Username, nil
}
