package remote

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kevinburke/ssh_config"

	"nixdeck/internal/testenv"
)

// TestPathTokens checks each IdentityFile token on its own, with a remote
// user that differs from the local one so that %u and %r cannot pass
// swapped.
func TestPathTokens(t *testing.T) {
	local, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if local.Username == "deploy" {
		t.Fatal("the test needs a local user other than deploy")
	}
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	short, _, _ := strings.Cut(hostname, ".")
	e := &endpoint{name: "db01", host: "10.0.0.5", port: 2222, user: "deploy"}
	tokens := e.pathTokens("db01.lan", "", "/home/op", nil)
	for value, want := range map[string]string{
		"%d":               "/home/op",
		"%h":               "10.0.0.5",
		"%i":               strconv.Itoa(os.Getuid()),
		"%k":               "db01.lan",
		"%L":               short,
		"%l":               hostname,
		"%n":               "db01.lan",
		"%p":               "2222",
		"%r":               "deploy",
		"%u":               local.Username,
		"%%":               "%",
		"%%r":              "%r",
		"%d/.ssh/%r@%h:%p": "/home/op/.ssh/deploy@10.0.0.5:2222",
	} {
		got, err := expandTokens(value, tokens)
		if err != nil || got != want {
			t.Errorf("expandTokens(%q) = %q, %v; want %q", value, got, err, want)
		}
	}
	if c, err := expandTokens("%C", tokens); err != nil || !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(c) {
		t.Errorf("%%C = %q, %v; want 40 hex digits (its value is checked against ssh in TestTokensMatchOpenSSH)", c, err)
	}
	if got, err := expandTokens("%k", e.pathTokens("db01.lan", "db-alias", "/home/op", nil)); err != nil || got != "db-alias" {
		t.Errorf("%%k with HostKeyAlias = %q, %v; want db-alias", got, err)
	}
	for _, value := range []string{"%j", "%T", "%é", "x%"} {
		if got, err := expandTokens(value, tokens); err == nil {
			t.Errorf("expandTokens(%q) = %q, want an error", value, got)
		}
	}
	noHome := e.pathTokens("db01.lan", "", "", errors.New("$HOME is not set"))
	if _, err := expandTokens("%d/k", noHome); err == nil || !strings.Contains(err.Error(), "cannot find the home directory: $HOME is not set") {
		t.Errorf("%%d without a home: %v", err)
	}
	if got, err := expandTokens("%r", noHome); err != nil || got != "deploy" {
		t.Errorf("%%r without a home = %q, %v; a token that needs no home must not fail", got, err)
	}
}

// TestHostNameTokens checks HostName's tokens: %h is the host as given,
// %% a literal %, and nothing else is accepted.
func TestHostNameTokens(t *testing.T) {
	cfg, err := ssh_config.Decode(strings.NewReader("Host web*\n  HostName %h.example.com\nHost db\n  HostName %r.example.com\n"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := resolve(Target{Name: "web01", Host: "web01", KnownHosts: "/kh", Identity: "/id"}, sshConfig{cfg})
	if err != nil || e.host != "web01.example.com" {
		t.Errorf("HostName %%h.example.com for web01: %q, %v", e.host, err)
	}
	_, err = resolve(Target{Name: "db", Host: "db", KnownHosts: "/kh", Identity: "/id"}, sshConfig{cfg})
	assertErrContains(t, err, "db: ssh config HostName %r.example.com: unknown token %r")
	if got, err := expandTokens("a%%h", hostNameTokens("x")); err != nil || got != "a%h" {
		t.Errorf("HostName a%%%%h = %q, %v; want a%%h", got, err)
	}
}

// TestTokensMatchOpenSSH resolves an IdentityFile using every token and
// compares the result with the file OpenSSH's own ssh tries for the same
// ssh_config: ssh -v names its identity files once the TCP connection is
// up, before the SSH handshake, so a listener that accepts and hangs up
// is all the server it needs.
func TestTokensMatchOpenSSH(t *testing.T) {
	testenv.NeedCommands(t, "ssh")
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatal(err)
	}
	local, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// OpenSSH's %d is the passwd home, nixdeck's $HOME: make them agree.
	t.Setenv("HOME", local.HomeDir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	const allTokens = "%d/k-%h-%r-%u-%i-%L-%l-%n-%p-%k-%C-%%"
	config := "Host db\n  HostName 127.0.0.1\n  User alice\n  Port " + strconv.Itoa(port) + "\n" +
		"  IdentityFile " + allTokens + "\n" +
		"Host web\n  HostName 127.0.0.1\n  User bob\n  Port " + strconv.Itoa(port) + "\n  HostKeyAlias web-alias\n" +
		"  IdentityFile " + allTokens + "\n"
	cfgPath := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadSSHConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	identityLine := regexp.MustCompile(`(?m)^debug1: identity file (.*) type -?[0-9]+\r?$`)
	for _, alias := range []string{"db", "web"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, _ := exec.CommandContext(ctx, sshBin, "-v", "-F", cfgPath, "-o", "BatchMode=yes", alias, "true").CombinedOutput()
		cancel()
		var theirs []string
		for _, m := range identityLine.FindAllStringSubmatch(string(out), -1) {
			if !strings.HasSuffix(m[1], "-cert") {
				theirs = append(theirs, m[1])
			}
		}
		if len(theirs) == 0 {
			t.Fatalf("ssh -v %s named no identity file:\n%s", alias, out)
		}
		e, err := resolve(Target{Name: alias, Host: alias, KnownHosts: "/kh"}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(e.identities, theirs) {
			t.Errorf("%s: nixdeck tries %q, OpenSSH %q", alias, e.identities, theirs)
		}
	}
}
