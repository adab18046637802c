package nix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// listArgv and readArgv are the commands RemoteTree runs.
func listArgv() []string { return []string{"sh", "-c", listScript, "sh", etcStoreDir, describeSh} }
func readArgv() []string { return []string{"sh", "-c", readScript, "sh", etcStoreDir, readSh} }

// rec renders one listing record.
func rec(fields ...string) string { return strings.Join(fields, "\x00") + "\x00" }

// TestRemoteTreeRejectsBadListings feeds List what a hostile host could
// send: every one must end in an error, not a panic or a wrong listing.
func TestRemoteTreeRejectsBadListings(t *testing.T) {
	const sys = StoreDir + "/aaa-system"
	head := rec("P", sys, "", "") + rec("d", sys+"/etc", "4096", "")
	tests := []struct{ name, out, want string }{
		{"negative size", head + rec("f", sys+"/etc/a", "-5", ""), `size "-5"`},
		{"huge size", head + rec("f", sys+"/etc/a", "99999999999999999999", ""), `size "99999999999999999999"`},
		{"size not a number", head + rec("f", sys+"/etc/a", "12 ", ""), `size "12 "`},
		{"outside the store", head + rec("f", "/etc/shadow", "5", ""), `"/etc/shadow", not a path in /nix/store`},
		{"dot-dot", head + rec("f", sys+"/etc/../../../etc/shadow", "5", ""), "not a path in"},
		{"relative", head + rec("f", "etc/a", "5", ""), "not a path in"},
		{"unknown type", head + rec("x", sys+"/etc/a", "5", ""), `type "x"`},
		{"empty link", head + rec("l", sys+"/etc/a", "0", ""), "target of 0 bytes"},
		{"long link", head + rec("l", sys+"/etc/a", "0", strings.Repeat("a", 5000)), "target of 5000 bytes"},
		{"truncated", head + "f\x00" + sys + "/etc/a", "truncated"},
		{"bad hash", head + strings.Repeat("g", 64) + "  " + sys + "/etc/a\x00", "bad checksum"},
		{"short hash", head + "abc  " + sys + "/etc/a\x00", "bad checksum"},
		{"hash outside", head + strings.Repeat("0", 64) + "  /etc/shadow\x00", "not a path in"},
		{"failed listing", head + rec("E", sys+"/etc", "", ""), "could not list " + sys + "/etc"},
		{"no answer", "", "the host did not describe " + sys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRunner(t)
			f.expect(listArgv()...).in("l" + sys + "/etc\x00").out(tt.out)
			if tt.name == "no answer" {
				f.expect(listArgv()...).in("s" + sys + "\x00")
			}
			_, err := RemoteTree{Runner: f, Root: sys}.List(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// floodRunner answers every command with output that never ends.
type floodRunner struct{ sent int }

func (f *floodRunner) Run(ctx context.Context, c Cmd) error {
	chunk := bytes.Repeat([]byte("f\x00"), 1<<19)
	for ctx.Err() == nil {
		if _, err := c.Stdout.Write(chunk); err != nil {
			return err
		}
		f.sent += len(chunk)
	}
	return ctx.Err()
}

// TestRemoteTreeCapsOutput: a host that sends without end gets stopped at
// the cap, with an error that says so.
func TestRemoteTreeCapsOutput(t *testing.T) {
	f := &floodRunner{}
	_, err := RemoteTree{Runner: f, Root: StoreDir + "/aaa-system"}.List(context.Background())
	if err == nil || err.Error() != "list /nix/store/aaa-system/etc: sent more than 32 MiB listing etc/" {
		t.Errorf("got %v", err)
	}
	if f.sent > MaxEtcListing {
		t.Errorf("kept %d bytes, more than the %d cap", f.sent, MaxEtcListing)
	}
	f = &floodRunner{}
	_, err = RemoteTree{Runner: f, Root: StoreDir + "/aaa-system"}.Read(context.Background(), []string{StoreDir + "/bbb-a"})
	if err == nil || !strings.Contains(err.Error(), "sent more than") || !strings.Contains(err.Error(), "reading files under etc/") {
		t.Errorf("got %v", err)
	}
}

func TestParseRead(t *testing.T) {
	paths := []string{StoreDir + "/a", StoreDir + "/b"}
	tests := []struct{ name, out, want string }{
		{"ok", "2\x00hi3\x00a\x00b", ""},
		{"negative", "-2\x00hi3\x00abc", `bad size "-2"`},
		{"over the cap", "999999999\x00", `bad size "999999999"`},
		{"overflow", "99999999999999999999\x00", `bad size "99999999999999999999"`},
		{"not a file", "-\x00", "is not a regular file"},
		{"truncated", "2\x00hi3\x00ab", "truncated"},
		{"no header", "2\x00hi", "truncated"},
		{"trailing", "2\x00hi3\x00abcd", "1 bytes after the last file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := parseRead([]byte(tt.out), paths)
			if tt.want == "" {
				if err != nil || string(files[paths[0]]) != "hi" || string(files[paths[1]]) != "a\x00b" {
					t.Errorf("got %q, %v", files, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestHostScriptsRefuseEscapes sends the host scripts requests that the
// walk never makes but a lying link could (.. components, links on the
// way, paths outside the store): they answer without touching the file.
func TestHostScriptsRefuseEscapes(t *testing.T) {
	sys, secret := hostileStore(t)
	store := etcStoreDir
	outside := filepath.Join(filepath.Dir(store), "outside")
	reqs := []string{
		outside + "/secret", store + "/../outside/secret", store + "/bbb-etc/../../outside/secret",
		store + "/fff-outdir/secret2", store + "/ddd-abs", store + "/eee-rel", sys + "/etc/abs", sys + "/etc/via/x",
		store + "//fff-outdir/secret2", store + "/./ddd-abs", outside + "/fifo", sys + "/etc/fifo",
		store + "/bbb-etc/etc/fifo", store + "/bbb-etc/etc/relfifo", store + "/bbb-etc/etc/pipe", store + "/bbb-etc/etc/zero",
	}
	var in bytes.Buffer
	for _, r := range reqs {
		in.WriteString("l" + r + "\x00s" + r + "\x00")
	}
	cmd := exec.Command("sh", "-c", listScript, "sh", store, describeSh)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	// Every record names a path in the store (parse checks), and nothing
	// of the sentinel came along.
	if err := newRemoteStore(context.Background(), nil).parse(out); err != nil {
		t.Errorf("%v in\n%q", err, out)
	}
	secretSum := sha256.Sum256([]byte(secret))
	if bytes.Contains(out, []byte("SENTINEL")) || bytes.Contains(out, []byte(hex.EncodeToString(secretSum[:]))) {
		t.Errorf("the listing reached outside the store:\n%q", out)
	}
	for _, r := range reqs {
		files, err := RemoteTree{Runner: LocalRunner{}, Root: sys}.Read(context.Background(), []string{r})
		if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
			t.Errorf("read %q: %q, %v", r, files, err)
		}
	}
}
