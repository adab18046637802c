package fleet

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nixKeyPair makes a Nix signing key pair named name from a fixed seed, as
// nix-store --generate-binary-cache-key writes them: "name:base64".
func nixKeyPair(name string, seed byte) (secret, public string) {
	sk := ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune(seed)), ed25519.SeedSize)))
	enc := base64.StdEncoding.EncodeToString
	return name + ":" + enc(sk), name + ":" + enc(sk.Public().(ed25519.PublicKey))
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadCache: every form of cache the file may state, with sign_key
// resolved against the fleet file's directory.
func TestLoadCache(t *testing.T) {
	dir := t.TempDir()
	secret, public := nixKeyPair("cache.example.com-1", 7)
	key := writeFile(t, dir, "secrets/cache-key.sec", secret+"\n")
	const nodes = "flake: ./\nnodes:\n  a: {host: h}\n"
	for _, c := range []struct {
		name, yaml string
		want       *Cache
	}{
		{"none", nodes, nil},
		{"null", nodes + "cache:\n", nil},
		{"all", nodes + "cache:\n  push: s3://my-cache?region=eu-west-1\n  sign_key: ./secrets/cache-key.sec\n  substituter: https://cache.example.com\n  public_key: " + public + "\n",
			&Cache{Push: "s3://my-cache?region=eu-west-1", SignKey: key, Substituter: "https://cache.example.com", PublicKey: public}},
		{"push only", nodes + "cache: {push: 'ssh-ng://nix@cache01'}\n", &Cache{Push: "ssh-ng://nix@cache01"}},
		{"signed file push, absolute key", nodes + "cache: {push: 'file:///srv/cache?compression=zstd', sign_key: " + key + "}\n",
			&Cache{Push: "file:///srv/cache?compression=zstd", SignKey: key}},
		// Another operator's or a CI job's machine: no key, the file still loads.
		{"key not on this machine", nodes + "cache:\n  push: s3://a\n  sign_key: ./secrets/absent.sec\n  substituter: https://c\n  public_key: " + public + "\n",
			&Cache{Push: "s3://a", SignKey: filepath.Join(dir, "secrets/absent.sec"), Substituter: "https://c", PublicKey: public}},
		{"local store path", nodes + "cache: {push: /srv/store/../nix-store}\n", &Cache{Push: "/srv/nix-store"}},
		{"ssh and http pushes", nodes + "cache: {push: 'http://attic:8080/main'}\n", &Cache{Push: "http://attic:8080/main"}},
		{"pull only", nodes + "cache: {substituter: 'file:///mnt/cache', public_key: '" + public + "'}\n", &Cache{Substituter: "file:///mnt/cache", PublicKey: public}},
		{"ssh substituter", nodes + "cache: {substituter: 'ssh://nix@cache01', public_key: '" + public + "'}\n", &Cache{Substituter: "ssh://nix@cache01", PublicKey: public}},
		{"s3 substituter", nodes + "cache: {substituter: 's3://bucket?endpoint=minio:9000', public_key: '" + public + "'}\n", &Cache{Substituter: "s3://bucket?endpoint=minio:9000", PublicKey: public}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("fleet.yaml", filepath.Join(dir, "fleet.yaml"), []byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.want == nil && f.Cache != nil:
				t.Errorf("Cache = %+v, want nil", *f.Cache)
			case c.want != nil && (f.Cache == nil || *f.Cache != *c.want):
				t.Errorf("Cache = %+v, want %+v", f.Cache, *c.want)
			}
		})
	}
	if got := (&Cache{PublicKey: public}).KeyName(); got != "cache.example.com-1" {
		t.Errorf("KeyName = %q", got)
	}
	if got := (&Cache{}).KeyName(); got != "" {
		t.Errorf("KeyName without a key = %q", got)
	}
}

func TestCacheErrors(t *testing.T) {
	dir := t.TempDir()
	secret, public := nixKeyPair("c-1", 1)
	key := writeFile(t, dir, "k.sec", secret)
	_, otherPublic := nixKeyPair("c-1", 2)
	_, renamed := nixKeyPair("c-2", 1)
	junk := writeFile(t, dir, "junk", "not a key\n")
	huge := writeFile(t, dir, "huge", strings.Repeat("a", 5000))
	publicAsSecret := writeFile(t, dir, "pub", public)
	long := "https://c/" + strings.Repeat("x", 2048)
	c := ok + "cache:\n"
	sub := "  substituter: https://c\n"
	pk := "  public_key: " + public + "\n"
	wantParseErrors(t, []parseErrorCase{
		{"not a mapping", ok + "cache: s3://x\n", []string{"fleet.yaml:4:1: cache: expected a mapping, got \"s3://x\" (a string)"}},
		{"empty", ok + "cache: {}\n", []string{"fleet.yaml:4:1: cache: set push (where builds are pushed) or substituter and public_key (where the targets pull from), or leave cache out"}},
		{"unknown key", c + "  signkey: ./k\n", []string{"fleet.yaml:5:3: cache.signkey: unknown key (did you mean sign_key?)"}},
		{"duplicate key", c + "  push: s3://a\n  push: s3://b\n", []string{"fleet.yaml:6:3: cache.push: duplicate key (first at line 5)"}},
		{"push scheme", c + "  push: ftp://c/x\n", []string{"fleet.yaml:5:3: cache.push: \"ftp://c/x\" is not a store URI (s3://, file://, ssh://, ssh-ng://, http:// or https://) or an absolute path"}},
		{"push relative path", c + "  push: cache/dir\n", []string{"fleet.yaml:5:3: cache.push: \"cache/dir\" is not a store URI (s3://, file://, ssh://, ssh-ng://, http:// or https://) or an absolute path"}},
		{"push no bucket", c + "  push: s3://?region=x\n", []string{"fleet.yaml:5:3: cache.push: \"s3://?region=x\" has no host (or bucket)"}},
		{"push relative file", c + "  push: file://cache\n", []string{"fleet.yaml:5:3: cache.push: \"file://cache\": a file:// URI names an absolute directory (file:///srv/cache)"}},
		{"push file root", c + "  push: file:///\n", []string{"fleet.yaml:5:3: cache.push: \"file:///\": a file:// URI names an absolute directory (file:///srv/cache)"}},
		{"push with a space", c + "  push: 'file:///my cache'\n", []string{"fleet.yaml:5:3: cache.push: \"file:///my cache\" has a space in it; write it as %20"}},
		{"push with an escape", c + "  push: \"s3://a\\e[2J\"\n", []string{"fleet.yaml:5:3: cache.push: \"s3://a\\x1b[2J\" contains a control character (U+001B)"}},
		{"push with a bidi override", c + "  push: \"s3://a\\u202Eb\"\n", []string{"fleet.yaml:5:3: cache.push: \"s3://a\\u202eb\" has an invisible character (U+202E)"}},
		{"push too long", c + "  push: " + long + "\n", []string{"fleet.yaml:5:3: cache.push: longer than 2048 bytes"}},
		{"push empty", c + "  push: ''\n", []string{"fleet.yaml:5:3: cache.push: must not be empty"}},
		{"push a list", c + "  push: [s3://a]\n", []string{"fleet.yaml:5:3: cache.push: expected a string, got a list"}},
		{"substituter ssh-ng", c + "  substituter: ssh-ng://c\n" + pk, []string{"fleet.yaml:5:3: cache.substituter: \"ssh-ng://c\" is not a substituter URL (http://, https://, file://, s3:// or ssh://)"}},
		{"substituter local path", c + "  substituter: /srv/cache\n" + pk, []string{"fleet.yaml:5:3: cache.substituter: \"/srv/cache\" is not a substituter URL (http://, https://, file://, s3:// or ssh://)"}},
		{"substituter no host", c + "  substituter: https:///x\n" + pk, []string{"fleet.yaml:5:3: cache.substituter: \"https:///x\" has no host (or bucket)"}},
		{"substituter without key", c + sub, []string{"fleet.yaml:5:3: cache.substituter: needs public_key: the targets only take paths signed by a key they trust"}},
		{"key without substituter", c + "  push: s3://a\n" + pk, []string{"fleet.yaml:6:3: cache.public_key: the key of a substituter, but there is none: set substituter"}},
		{"key without colon", c + sub + "  public_key: abc\n", []string{"fleet.yaml:6:3: cache.public_key: not a Nix public key (name:base64 of 32 bytes, as nix-store --generate-binary-cache-key writes): no ':' after the name"}},
		{"key without name", c + sub + "  public_key: ':" + public[4:] + "'\n", []string{"fleet.yaml:6:3: cache.public_key: not a Nix public key (name:base64 of 32 bytes, as nix-store --generate-binary-cache-key writes): no name before ':'"}},
		{"key name with a space", c + sub + "  public_key: 'a b:" + public[4:] + "'\n", []string{"fleet.yaml:6:3: cache.public_key: not a Nix public key (name:base64 of 32 bytes, as nix-store --generate-binary-cache-key writes): the name is not up to 256 printable ASCII characters without spaces"}},
		{"key not base64", c + sub + "  public_key: 'c-1:not*base64'\n", []string{"fleet.yaml:6:3: cache.public_key: not a Nix public key (name:base64 of 32 bytes, as nix-store --generate-binary-cache-key writes): the key is not base64"}},
		{"key too short", c + sub + "  public_key: 'c-1:AAAA'\n", []string{"fleet.yaml:6:3: cache.public_key: not a Nix public key (name:base64 of 32 bytes, as nix-store --generate-binary-cache-key writes): the key is 3 bytes, not 32"}},
		{"key is the secret one", c + sub + "  public_key: '" + secret + "'\n", []string{"fleet.yaml:6:3: cache.public_key: not a Nix public key (name:base64 of 32 bytes, as nix-store --generate-binary-cache-key writes): the key is 64 bytes, not 32"}},
		{"key huge", c + sub + "  public_key: 'c-1:" + strings.Repeat("A", 100000) + "'\n", []string{"fleet.yaml:6:3: cache.public_key: not a Nix public key (name:base64 of 32 bytes, as nix-store --generate-binary-cache-key writes): the key is too long"}},
		{"sign_key without push", c + sub + pk + "  sign_key: " + key + "\n", []string{"fleet.yaml:7:3: cache.sign_key: signs what is pushed, but there is no push"}},
		{"sign_key a directory", c + "  push: s3://a\n  sign_key: " + dir + "\n", []string{"fleet.yaml:6:3: cache.sign_key: " + dir + " is a directory, not a file"}},
		{"sign_key a device", c + "  push: s3://a\n  sign_key: /dev/null\n", []string{"fleet.yaml:6:3: cache.sign_key: /dev/null is not a regular file"}},
		{"sign_key empty", c + "  push: s3://a\n  sign_key: ''\n", []string{"fleet.yaml:6:3: cache.sign_key: must not be empty"}},
		{"sign_key not a key", c + "  push: s3://a\n  sign_key: " + junk + "\n", []string{"fleet.yaml:6:3: cache.sign_key: " + junk + " is not a Nix secret key (name:base64 of 64 bytes, as nix-store --generate-binary-cache-key writes): no ':' after the name"}},
		{"sign_key huge", c + "  push: s3://a\n  sign_key: " + huge + "\n", []string{"fleet.yaml:6:3: cache.sign_key: " + huge + " is larger than 4096 bytes: not a Nix secret key"}},
		{"sign_key is the public key", c + "  push: s3://a\n  sign_key: " + publicAsSecret + "\n", []string{"fleet.yaml:6:3: cache.sign_key: " + publicAsSecret + " is not a Nix secret key (name:base64 of 64 bytes, as nix-store --generate-binary-cache-key writes): the key is 32 bytes, not 64"}},
		{"sign_key of another key", c + "  push: s3://a\n  sign_key: " + key + "\n" + sub + "  public_key: " + otherPublic + "\n", []string{"fleet.yaml:6:3: cache.sign_key: " + key + " is the secret key of " + public + ", not of public_key " + otherPublic + ": the targets would refuse what it signs"}},
		{"sign_key of another name", c + "  push: s3://a\n  sign_key: " + key + "\n" + sub + "  public_key: " + renamed + "\n", []string{"fleet.yaml:6:3: cache.sign_key: " + key + " is the secret key of " + public + ", not of public_key " + renamed + ": the targets would refuse what it signs"}},
		{"sign_key and secret-key in the URI", c + "  push: 's3://a?secret-key=/k'\n  sign_key: " + key + "\n", []string{"fleet.yaml:5:3: cache.push: has a secret-key parameter and sign_key is set; set only sign_key"}},
		{"merge brings in a bad key", "flake: ./\nx-c: &c {push: 'gopher://x'}\ncache: {<<: *c}\nnodes:\n  a: {host: h}\n", []string{"fleet.yaml:2:10: cache.push: \"gopher://x\" is not a store URI (s3://, file://, ssh://, ssh-ng://, http:// or https://) or an absolute path"}},
	})
}
