package fleet

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// rawSettings are the settings one section of the file states; nil means
// the section did not say, so the next level (defaults, built-ins) decides.
type rawSettings struct {
	user, identity, knownHosts, jump, sudo, buildOn *string
	port                                            *int
	substitute                                      *bool
	vars                                            map[string]string
	// buildOnAt and buildOnKey are where build_on was written, for an
	// error about the builder it names once the builders are known.
	buildOnAt  *yaml.Node
	buildOnKey string
}

// over returns base with every setting r states replaced.
func (r rawSettings) over(base Settings) Settings {
	s := base
	setIf(&s.User, r.user)
	setIf(&s.Port, r.port)
	setIf(&s.Identity, r.identity)
	setIf(&s.KnownHosts, r.knownHosts)
	setIf(&s.Jump, r.jump)
	setIf(&s.Sudo, r.sudo)
	setIf(&s.BuildOn, r.buildOn)
	setIf(&s.SubstituteOnDestination, r.substitute)
	return s
}

// setIf copies *src to *dst when src is set.
func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// keep stores a decoded value into *dst when decoding succeeded.
func keep[T any](dst **T) func(T, bool) {
	return func(v T, ok bool) {
		if ok {
			*dst = &v
		}
	}
}

// assign stores a decoded value into *dst when decoding succeeded.
func assign[T any](dst *T) func(T, bool) {
	return func(v T, ok bool) {
		if ok {
			*dst = v
		}
	}
}

// settingFields are the keys of `defaults`, which every node may repeat.
func (d *decoder) settingFields(r *rawSettings) map[string]field {
	return map[string]field{
		"user":        func(v *yaml.Node, key string) { keep(&r.user)(d.user(v, key)) },
		"port":        func(v *yaml.Node, key string) { keep(&r.port)(d.port(v, key)) },
		"identity":    func(v *yaml.Node, key string) { keep(&r.identity)(d.path(v, key)) },
		"known_hosts": func(v *yaml.Node, key string) { keep(&r.knownHosts)(d.path(v, key)) },
		"jump":        func(v *yaml.Node, key string) { keep(&r.jump)(d.jump(v, key)) },
		"sudo": func(v *yaml.Node, key string) {
			keep(&r.sudo)(d.enum(v, key, SudoAuto, SudoAlways, SudoNever))
		},
		"build_on": func(v *yaml.Node, key string) {
			r.buildOnAt, r.buildOnKey = v, key
			keep(&r.buildOn)(d.buildOn(v, key))
		},
		"substitute_on_destination": func(v *yaml.Node, key string) {
			keep(&r.substitute)(d.boolean(v, key))
		},
		"vars": func(v *yaml.Node, key string) { r.vars = d.vars(v, key) },
	}
}

// user decodes a login user name.
func (d *decoder) user(v *yaml.Node, key string) (string, bool) {
	s, ok := d.str(v, key)
	if !ok {
		return "", false
	}
	if s == "" || strings.ContainsAny(s, "@: \t") {
		d.errorf(v, key, "%q is not a user name", s)
		return "", false
	}
	if !d.printable(v, key, s) {
		return "", false
	}
	return s, true
}

// host decodes a host name, address or ~/.ssh/config alias.
func (d *decoder) host(v *yaml.Node, key string) (string, bool) {
	s, ok := d.str(v, key)
	if !ok {
		return "", false
	}
	switch {
	case s == "":
		d.errorf(v, key, "must not be empty")
	case strings.ContainsAny(s, " \t/"):
		d.errorf(v, key, "%q is not a host name or address", s)
	case strings.Contains(s, "@"):
		d.errorf(v, key, "%q has a user in it; put the user in user:", s)
	case strings.Contains(s, ":") && !isIPv6(s):
		// "10.0.0.1:2222" would be dialled as [10.0.0.1:2222]:22.
		d.errorf(v, key, "%q is not a host name or address; put a port in port:, and write IPv6 addresses without brackets", s)
	case d.printable(v, key, s):
		return s, true
	}
	return "", false
}

// isIPv6 reports whether s is an IPv6 address (a zone allowed), the only
// kind of host with a colon in it.
func isIPv6(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6()
}

// jump decodes a bastion, "[user@]host[:port]". An explicit "" (or
// "none") means no bastion, not even ~/.ssh/config's ProxyJump, so it
// becomes JumpNone; a jump left out stays "" for ssh_config to decide.
func (d *decoder) jump(v *yaml.Node, key string) (string, bool) {
	s, ok := d.str(v, key)
	if !ok {
		return "", false
	}
	if s == "" || s == JumpNone {
		return JumpNone, true
	}
	if err := checkJump(s); err != nil {
		d.errorf(v, key, "%q: %v", s, err)
		return "", false
	}
	if !d.printable(v, key, s) {
		return "", false
	}
	return s, true
}

// checkJump validates "[user@]host[:port]" (IPv6 addresses in brackets).
func checkJump(s string) error {
	if s == "" {
		return nil
	}
	if strings.ContainsAny(s, " \t,/") {
		return fmt.Errorf("not [user@]host[:port] (one bastion only)")
	}
	rest := s
	if i := strings.LastIndex(s, "@"); i >= 0 {
		if i == 0 {
			return fmt.Errorf("empty user before @")
		}
		rest = s[i+1:]
	}
	host := rest
	if strings.Contains(rest, ":") {
		h, p, err := net.SplitHostPort(rest)
		if err != nil {
			return fmt.Errorf("not [user@]host[:port]")
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%s %s a port (1-65535)", p, overflows(err))
		}
		host = h
	}
	if host == "" {
		return fmt.Errorf("no host")
	}
	return nil
}
