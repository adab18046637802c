package fleet

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Cache is the fleet file's `cache` section: the binary cache builds are
// pushed to and the targets pull from. Empty fields are not set.
type Cache struct {
	// Push is the Nix store URI closures are pushed to after a build
	// ("s3://bucket?region=…", "file:///srv/cache", "ssh-ng://host", an
	// absolute local store path); "" = no push.
	Push string
	// SignKey is the absolute path of the Nix secret key paths are signed
	// with before they are pushed; "" = none.
	SignKey string
	// Substituter is the URL the targets pull from; "" = none.
	Substituter string
	// PublicKey is the key the targets trust, "name:base64"; "" = none.
	PublicKey string
}

// KeyName is the name part of PublicKey ("cache.example.com-1"); "" when
// there is no public key.
func (c *Cache) KeyName() string {
	name, _, _ := strings.Cut(c.PublicKey, ":")
	return name
}

// maxURILen bounds cache URIs: they go into argv and into the targets'
// nix.conf.
const maxURILen = 2048

// URI schemes Nix takes for each use; a push may also be an absolute
// local store path.
var (
	pushSchemes        = []string{"s3", "file", "ssh", "ssh-ng", "http", "https"}
	substituterSchemes = []string{"http", "https", "file", "s3", "ssh"}
)

// cache decodes the `cache` section. The checks across its keys run only
// when each key is valid on its own, so that one mistake is reported once.
func (d *decoder) cache(v *yaml.Node, path string) *Cache {
	c := &Cache{}
	at := map[string]*yaml.Node{} // where each key was written
	set := func(dst *string, dec func(v *yaml.Node, key string) (string, bool)) field {
		return func(v *yaml.Node, key string) {
			at[strings.TrimPrefix(key, path+".")] = v
			*dst, _ = dec(v, key)
		}
	}
	before := len(d.errs)
	if !d.fields(v, path, map[string]field{
		"push": set(&c.Push, func(v *yaml.Node, key string) (string, bool) {
			return d.storeURI(v, key, pushSchemes, true)
		}),
		"sign_key": set(&c.SignKey, d.regularFile),
		"substituter": set(&c.Substituter, func(v *yaml.Node, key string) (string, bool) {
			return d.storeURI(v, key, substituterSchemes, false)
		}),
		"public_key": set(&c.PublicKey, d.publicKey),
	}) {
		return nil
	}
	errAt := func(name, format string, args ...any) { d.errorf(at[name], joinKey(path, name), format, args...) }
	switch {
	case len(d.errs) > before:
	case c.Push == "" && c.Substituter == "":
		d.errorf(v, path, "set push (where builds are pushed) or substituter and public_key (where the targets pull from), or leave cache out")
	case c.SignKey != "" && c.Push == "":
		errAt("sign_key", "signs what is pushed, but there is no push")
	case c.PublicKey != "" && c.Substituter == "":
		errAt("public_key", "the key of a substituter, but there is none: set substituter")
	case c.Substituter != "" && c.PublicKey == "":
		errAt("substituter", "needs public_key: the targets only take paths signed by a key they trust")
	case c.SignKey != "" && strings.Contains(c.Push, "secret-key="):
		errAt("push", "has a secret-key parameter and sign_key is set; set only sign_key")
	case c.SignKey != "":
		d.secretKey(at["sign_key"], joinKey(path, "sign_key"), c.SignKey, c.PublicKey)
	}
	return c
}

// maxKeyFile bounds what is read of a sign_key file; a Nix secret key
// file is about 100 bytes.
const maxKeyFile = 4096

// secretKey checks that the file at p holds a Nix secret key and, when
// the targets are told to trust public, that it is that key's secret
// half: paths signed with another key would be refused by every target.
// Errors never quote the file's content.
func (d *decoder) secretKey(v *yaml.Node, key, p, public string) {
	fh, err := os.Open(p)
	if os.IsNotExist(err) {
		return // see regularFile
	}
	if err != nil {
		d.errorf(v, key, "%v", err)
		return
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxKeyFile+1))
	switch {
	case err != nil:
		d.errorf(v, key, "%s: %v", p, err)
		return
	case len(b) > maxKeyFile:
		d.errorf(v, key, "%s is larger than %d bytes: not a Nix secret key", p, maxKeyFile)
		return
	}
	s := strings.TrimSpace(string(b))
	if err := checkNixKey(s, secretKeySize); err != nil {
		d.errorf(v, key, "%s is not a Nix secret key (name:base64 of %d bytes, as nix-store --generate-binary-cache-key writes): %v", p, secretKeySize, err)
		return
	}
	if public == "" {
		return
	}
	name, b64, _ := strings.Cut(s, ":")
	raw, _ := base64.StdEncoding.DecodeString(b64)
	if got := name + ":" + base64.StdEncoding.EncodeToString(raw[secretKeySize-publicKeySize:]); got != public {
		d.errorf(v, key, "%s is the secret key of %s, not of public_key %s: the targets would refuse what it signs", p, got, public)
	}
}

// storeURI decodes a Nix store URI with one of schemes; with local, an
// absolute path (a local store) is taken too.
func (d *decoder) storeURI(v *yaml.Node, key string, schemes []string, local bool) (string, bool) {
	s, ok := d.str(v, key)
	if !ok {
		return "", false
	}
	prefixes := make([]string, len(schemes))
	for i, sc := range schemes {
		prefixes[i] = sc + "://"
	}
	kinds := "substituter URL (" + joinWords(prefixes) + ")"
	if local {
		kinds = "store URI (" + joinWords(prefixes) + ") or an absolute path"
	}
	switch {
	case s == "":
		d.errorf(v, key, "must not be empty")
		return "", false
	case len(s) > maxURILen:
		d.errorf(v, key, "longer than %d bytes", maxURILen)
		return "", false
	case !d.printable(v, key, s):
		return "", false
	case strings.ContainsAny(s, " \t"):
		// nix.conf separates substituters with spaces.
		d.errorf(v, key, "%q has a space in it; write it as %%20", s)
		return "", false
	case local && filepath.IsAbs(s):
		return filepath.Clean(s), true
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || !slices.Contains(schemes, u.Scheme):
		d.errorf(v, key, "%q is not a %s", s, kinds)
	case u.Scheme == "file" && (u.Host != "" || !strings.HasPrefix(u.Path, "/") || u.Path == "/"):
		d.errorf(v, key, "%q: a file:// URI names an absolute directory (file:///srv/cache)", s)
	case u.Scheme != "file" && u.Host == "":
		d.errorf(v, key, "%q has no host (or bucket)", s)
	default:
		return s, true
	}
	return "", false
}

// ed25519 sizes of Nix's signing keys.
const (
	publicKeySize = 32
	secretKeySize = 64
)

// publicKey decodes a Nix public key, "name:base64" of 32 bytes.
func (d *decoder) publicKey(v *yaml.Node, key string) (string, bool) {
	s, ok := d.str(v, key)
	if !ok {
		return "", false
	}
	if err := checkNixKey(s, publicKeySize); err != nil {
		d.errorf(v, key, "not a Nix public key (name:base64 of %d bytes, as nix-store --generate-binary-cache-key writes): %v", publicKeySize, err)
		return "", false
	}
	return s, true
}

// checkNixKey checks "name:base64" with size bytes of key. Its errors
// never quote the key: it may be a secret one.
func checkNixKey(s string, size int) error {
	name, b64, found := strings.Cut(s, ":")
	switch {
	case !found:
		return fmt.Errorf("no ':' after the name")
	case name == "":
		return fmt.Errorf("no name before ':'")
	case len(name) > 256 || strings.IndexFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7F || r > 0x7E }) >= 0:
		return fmt.Errorf("the name is not up to 256 printable ASCII characters without spaces")
	}
	if len(b64) > 2*base64.StdEncoding.EncodedLen(size) {
		return fmt.Errorf("the key is too long")
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	switch {
	case err != nil:
		return fmt.Errorf("the key is not base64")
	case len(raw) != size:
		return fmt.Errorf("the key is %d bytes, not %d", len(raw), size)
	}
	return nil
}

// regularFile decodes a path that must name a regular file when it
// exists (a secret key: a directory, a FIFO or a device would hang or
// fail the push much later). A file that is not there is no error: the
// fleet file is shared, and an operator or a CI job without the key must
// still read status and history; `check` warns, and a push without it
// pushes nothing (fleet/build_push.go).
func (d *decoder) regularFile(v *yaml.Node, key string) (string, bool) {
	p, ok := d.path(v, key)
	if !ok {
		return "", false
	}
	st, err := os.Stat(p)
	switch {
	case os.IsNotExist(err):
		return p, true
	case err != nil:
		d.errorf(v, key, "%v", err)
	case st.IsDir():
		d.errorf(v, key, "%s is a directory, not a file", p)
	case !st.Mode().IsRegular():
		d.errorf(v, key, "%s is not a regular file", p)
	default:
		return p, true
	}
	return "", false
}
