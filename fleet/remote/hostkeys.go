package remote

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyKind says why a host key was refused.
type HostKeyKind int

// The ways a host key can fail strict checking.
const (
	// HostKeyUnknown: known_hosts has no key for this host.
	HostKeyUnknown HostKeyKind = iota + 1
	// HostKeyChanged: known_hosts has other keys for this host.
	HostKeyChanged
	// HostKeyRevoked: the key is marked @revoked.
	HostKeyRevoked
)

// String names the kind: "unknown", "changed" or "revoked".
func (k HostKeyKind) String() string {
	switch k {
	case HostKeyUnknown:
		return "unknown"
	case HostKeyChanged:
		return "changed"
	case HostKeyRevoked:
		return "revoked"
	}
	return "invalid"
}

// HostKeyError is a refused host key. Connections are never made to such
// hosts and known_hosts is never rewritten.
type HostKeyError struct {
	// Kind is unknown, changed or revoked.
	Kind HostKeyKind
	// Name is the node name (or "jump HOST" for a bastion); Addr the
	// host:port looked up in known_hosts.
	Name, Addr string
	// Node is the node whose connection needed this host, when it is not
	// Name itself (a bastion's key): `nixdeck trust Node` records both.
	Node string
	// Key is the key the host offered (the plain key of a certificate).
	Key ssh.PublicKey
	// Fingerprint is Key's SHA256 fingerprint ("SHA256:...").
	Fingerprint string
	// KnownHosts is the file checked.
	KnownHosts string
	// Known lists the keys known_hosts holds for this host (file:line),
	// when the key changed or was revoked.
	Known []knownhosts.KnownKey
	// Detail is extra context, e.g. why a certificate was not accepted.
	Detail string
}

// Error explains the refusal with the fingerprints involved and what to do.
func (e *HostKeyError) Error() string {
	who := hostLabel(e.Name, e.Addr)
	kind := keyKind(e.Key)
	var b strings.Builder
	switch e.Kind {
	case HostKeyUnknown:
		fmt.Fprintf(&b, "%s: host key unknown: %s key %s is not in %s", who, kind, e.Fingerprint, e.KnownHosts)
		if e.Detail != "" {
			fmt.Fprintf(&b, " (%s)", e.Detail)
		}
		fmt.Fprintf(&b, "; verify the fingerprint, then run `nixdeck trust %s`", e.node())
	case HostKeyChanged:
		fmt.Fprintf(&b, "%s: HOST KEY CHANGED, refusing to connect (possible man-in-the-middle): host offered %s key %s", who, kind, e.Fingerprint)
		for _, k := range e.Known {
			fmt.Fprintf(&b, "; %s:%d has %s key %s", k.Filename, k.Line, keyKind(k.Key), ssh.FingerprintSHA256(k.Key))
		}
		b.WriteString("; if the change is legitimate, remove the old line yourself — nixdeck never overwrites it")
	case HostKeyRevoked:
		fmt.Fprintf(&b, "%s: host key REVOKED, refusing to connect: %s key %s", who, kind, e.Fingerprint)
		for _, k := range e.Known {
			fmt.Fprintf(&b, " is marked @revoked at %s:%d", k.Filename, k.Line)
		}
	default:
		fmt.Fprintf(&b, "%s: host key refused", who)
	}
	return b.String()
}

// node is the node to name in the trust hint.
func (e *HostKeyError) node() string {
	if e.Node != "" {
		return e.Node
	}
	return e.Name
}

// keyKind names a key type the way ssh-keygen -l does ("ED25519", "RSA").
func keyKind(k ssh.PublicKey) string {
	if k == nil {
		return "no"
	}
	t := k.Type()
	if c, ok := k.(*ssh.Certificate); ok {
		t = c.Key.Type()
	}
	switch {
	case t == ssh.KeyAlgoED25519:
		return "ED25519"
	case t == ssh.KeyAlgoRSA:
		return "RSA"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ECDSA"
	}
	return strings.ToUpper(t)
}

// hostKeys checks host keys strictly against one known_hosts file.
type hostKeys struct {
	file  string
	check ssh.HostKeyCallback // nil when the file does not exist yet
	// caLines are the line numbers of the file's @cert-authority lines.
	// knownhosts lists their keys among a host's known keys
	// (KeyError.Want), where they are no host's own key.
	caLines map[int]bool
	auths   []authority // the @cert-authority lines, see hostcerts.go
}

// loadHostKeys reads a known_hosts file; a missing file makes every host
// unknown.
func loadHostKeys(file string) (*hostKeys, error) {
	cb, err := knownhosts.New(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &hostKeys{file: file}, nil
		}
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	lines, auths := certAuthorities(data)
	return &hostKeys{file: file, check: cb, caLines: lines, auths: auths}, nil
}

// split separates the keys known_hosts holds for a host into the host's
// own keys and the certificate authorities trusted for it.
func (h *hostKeys) split(want []knownhosts.KnownKey) (own, cas []knownhosts.KnownKey) {
	for _, k := range want {
		if k.Filename == h.file && h.caLines[k.Line] {
			cas = append(cas, k)
		} else {
			own = append(own, k)
		}
	}
	return own, cas
}

// verify checks key for the node name at addr (host:port) and returns
// nil or a *HostKeyError.
func (h *hostKeys) verify(name, addr string, remote net.Addr, key ssh.PublicKey) error {
	plain := key
	if c, ok := key.(*ssh.Certificate); ok {
		plain = c.Key
	}
	herr := &HostKeyError{Name: name, Addr: addr, Key: plain, Fingerprint: ssh.FingerprintSHA256(plain), KnownHosts: h.file}
	if h.check == nil {
		herr.Kind = HostKeyUnknown
		return herr
	}
	if remote == nil {
		remote = &net.TCPAddr{IP: net.IPv4zero}
	}
	err := h.check(addr, remote, key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		herr.Kind, herr.Known = HostKeyRevoked, []knownhosts.KnownKey{re.Revoked}
	case errors.As(err, &ke):
		// A plain key for a host known only through an authority is
		// unknown, not changed: the authority's key is not the host's.
		own, cas := h.split(ke.Want)
		switch {
		case len(own) > 0:
			herr.Kind, herr.Known = HostKeyChanged, own
		case len(cas) > 0:
			herr.Kind, herr.Detail = HostKeyUnknown, "the host offered no certificate, and known_hosts trusts only a @cert-authority for it"
		default:
			herr.Kind = HostKeyUnknown
		}
	default:
		if cert, ok := key.(*ssh.Certificate); ok && h.vouched(addr, remote, cert) {
			return nil
		}
		// Certificates signed by an unknown authority, expired ones, or a
		// certificate for another principal: no trusted key vouches for
		// the host, so it is treated as unknown.
		herr.Kind, herr.Detail = HostKeyUnknown, err.Error()
	}
	return herr
}

// probeKey never matches a real host key: checking it reveals which keys
// known_hosts holds for an address (knownhosts.KeyError.Want).
var probeKey = func() ssh.PublicKey {
	k, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		panic(err)
	}
	return k
}()

// knownTypes returns the types of the host keys known_hosts holds for
// addr, in file order, and whether a @cert-authority is trusted for it.
func (h *hostKeys) knownTypes(addr string) (types []string, ca bool) {
	if h.check == nil {
		return nil, false
	}
	err := h.check(addr, &net.TCPAddr{IP: net.IPv4zero}, probeKey)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil, false
	}
	own, cas := h.split(ke.Want)
	for _, k := range own {
		if !slices.Contains(types, k.Key.Type()) {
			types = append(types, k.Key.Type())
		}
	}
	return types, len(cas) > 0 || h.authorityFor(addr)
}

// algorithms orders the host-key algorithms offered for addr so that the
// types already in known_hosts come first, then certificates when a
// @cert-authority is trusted for the host; otherwise the server may pick a
// key we cannot check and the check reports a false mismatch
// (golang/go#29286). nil means "the library default" (nothing known).
func (h *hostKeys) algorithms(addr string) []string {
	types, ca := h.knownTypes(addr)
	if len(types) == 0 && !ca {
		return nil
	}
	var algos []string
	for _, t := range types {
		algos = append(algos, algorithmsFor(t)...)
	}
	if ca {
		// A host without a certificate then shows the key OpenSSH would
		// pick (and nixdeck trust would record): Ed25519 first.
		algos = append(algos, scanAlgorithms()...)
	}
	var out []string
	for _, a := range append(algos, ssh.SupportedAlgorithms().HostKeys...) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// algorithmsFor maps a key type to the signature algorithms that prove it.
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	return []string{keyType}
}

// scanAlgorithms are the host-key algorithms Scan offers for a host with
// nothing known: certificates first, then plainAlgorithms.
func scanAlgorithms() []string {
	return append(certAlgorithms(), plainAlgorithms()...)
}

// certAlgorithms are the host certificate algorithms in OpenSSH's order
// of preference (Ed25519, ECDSA, RSA).
func certAlgorithms() []string {
	return []string{ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01, ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01}
}

// plainAlgorithms are the host-key algorithms without certificates, in
// OpenSSH's order of preference (Ed25519, ECDSA, RSA), for scanning the key
// nixdeck trust records.
func plainAlgorithms() []string {
	algos := []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	for _, a := range ssh.SupportedAlgorithms().HostKeys {
		if !strings.Contains(a, "-cert-") && !slices.Contains(algos, a) {
			algos = append(algos, a)
		}
	}
	return algos
}
