package nix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"one line", "PermitRootLogin no\nPort 22\n", "PermitRootLogin prohibit-password\nPort 22\n",
			"@@ -1,2 +1,2 @@\n-PermitRootLogin no\n+PermitRootLogin prohibit-password\n Port 22\n"},
		{"added file", "", "x\ny\n", "@@ -0,0 +1,2 @@\n+x\n+y\n"},
		{"removed file", "x\n", "", "@@ -1 +0,0 @@\n-x\n"},
		{"no newline", "a\nb", "a\nc", "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"},
		{"two hunks",
			"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n",
			"1\nTWO\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\nFOURTEEN\n15\n",
			"@@ -1,5 +1,5 @@\n 1\n-2\n+TWO\n 3\n 4\n 5\n@@ -11,5 +11,5 @@\n 11\n 12\n 13\n-14\n+FOURTEEN\n 15\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnifiedDiff(tt.old, tt.new, 3); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			// GNU diff -u must agree on the hunks (it is on Debian and NixOS).
			if _, err := exec.LookPath("diff"); err != nil || tt.want == "" {
				return
			}
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "a"), []byte(tt.old), 0o644)
			os.WriteFile(filepath.Join(dir, "b"), []byte(tt.new), 0o644)
			out, _ := exec.Command("diff", "-u", filepath.Join(dir, "a"), filepath.Join(dir, "b")).Output()
			lines := strings.SplitN(string(out), "\n", 3)
			if len(lines) == 3 && lines[2] != tt.want {
				t.Errorf("diff -u says\n%s", lines[2])
			}
		})
	}
}

// etcFixture writes a NixOS-like etc/ under a fresh system directory:
// files are symlinks into a "store" directory, one subdirectory is a link.
func etcFixture(t *testing.T, files map[string]string) string {
	t.Helper()
	sys, store := t.TempDir(), t.TempDir()
	// Links into the fixture's "store" are the system's own, as links
	// into /nix/store are; links elsewhere are host state.
	saved := etcStoreDir
	etcStoreDir = filepath.Dir(store)
	t.Cleanup(func() { etcStoreDir = saved })
	for rel, content := range files {
		if rel == "#unit" {
			continue
		}
		target := filepath.Join(store, strings.ReplaceAll(rel, "/", "-"))
		if err := os.WriteFile(target, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(sys, "etc", rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	units := filepath.Join(store, "system-units")
	os.MkdirAll(units, 0o755)
	os.WriteFile(filepath.Join(units, "nginx.service"), []byte(files["#unit"]), 0o644)
	os.MkdirAll(filepath.Join(sys, "etc", "systemd"), 0o755)
	if err := os.Symlink(units, filepath.Join(sys, "etc", "systemd", "system")); err != nil {
		t.Fatal(err)
	}
	return sys
}

func TestDiffEtc(t *testing.T) {
	big := strings.Repeat("x", MaxFileDiffSize+1)
	old := etcFixture(t, map[string]string{
		"ssh/sshd_config": "PermitRootLogin no\nPort 22\n", "hosts": "127.0.0.1 localhost\n",
		"gone.conf": "bye\n", "locale.bin": "a\x00b", "ssl/bundle.crt": big, "#unit": "ExecStart=nginx-1.26.1\n",
	})
	new := etcFixture(t, map[string]string{
		"ssh/sshd_config": "PermitRootLogin prohibit-password\nPort 22\n", "hosts": "127.0.0.1 localhost\n",
		"new.conf": "hi\n", "locale.bin": "a\x00c", "ssl/bundle.crt": big + "y", "#unit": "ExecStart=nginx-1.26.2\n",
	})
	ctx := context.Background()
	local, err := DiffEtc(ctx, LocalTree(old), LocalTree(new))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range local {
		got = append(got, fmt.Sprintf("%s %s bin=%v big=%v", f.Path, f.Status, f.Binary, f.TooLarge))
	}
	want := []string{
		"etc/gone.conf removed bin=false big=false",
		"etc/locale.bin modified bin=true big=false",
		"etc/new.conf added bin=false big=false",
		"etc/ssh/sshd_config modified bin=false big=false",
		"etc/ssl/bundle.crt modified bin=false big=true",
		"etc/systemd/system/nginx.service modified bin=false big=false",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if u := local[3].Unified; !strings.Contains(u, "-PermitRootLogin no\n+PermitRootLogin prohibit-password\n") {
		t.Errorf("sshd_config diff:\n%s", u)
	}
	if r := local[0].Render(nil); !strings.HasPrefix(r, "--- a/etc/gone.conf\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n") {
		t.Errorf("removed file renders as\n%s", r)
	}

	// The host side runs the same comparison through shell scripts (find,
	// sha256sum, wc, head); run them locally and expect the same result,
	// in one round trip for the listing and one for the changed files.
	host := &recordingRunner{inner: LocalRunner{}}
	remote, err := DiffEtc(ctx, RemoteTree{Runner: host, Root: old}, LocalTree(new))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(local, remote) {
		t.Errorf("remote tree result differs:\n%+v\n%+v", remote, local)
	}
	if host.runs != 2 {
		t.Errorf("the host side took %d round trips, want 2", host.runs)
	}
}

// linkFixture writes an etc/ of store-like links plus links out of the
// store: links maps a path under etc/ to its absolute target.
func linkFixture(t *testing.T, files, links map[string]string) string {
	t.Helper()
	sys := etcFixture(t, files)
	for rel, target := range links {
		p := filepath.Join(sys, "etc", rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return sys
}

// TestDiffEtcLinksOutOfStore: NixOS puts links to host state into etc/
// (localtime -> /etc/zoneinfo/UTC, resolv.conf -> /run/...). Followed,
// they resolve to the host's file on one side and to this machine's (or
// nothing) on the other, a difference on every host; they are compared
// by target instead, the same way locally and through the host script.
func TestDiffEtcLinksOutOfStore(t *testing.T) {
	// A file outside the fixture's store, like this machine's /etc/hostname.
	f, err := os.CreateTemp("", "hostname")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("builder\n")
	f.Close()
	here := f.Name()
	t.Cleanup(func() { os.Remove(here) })
	old := linkFixture(t, map[string]string{"hosts": "127.0.0.1 localhost\n"}, map[string]string{
		"localtime": "/nonexistent/zoneinfo/UTC", "hostname": here, "resolv.conf": "/run/systemd/resolve/stub-resolv.conf",
	})
	new := linkFixture(t, map[string]string{"hosts": "127.0.0.1 localhost\n"}, map[string]string{
		"localtime": "/nonexistent/zoneinfo/Europe/Berlin", "hostname": here,
	})
	ctx := context.Background()
	sums, err := LocalTree(old).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := sums["hostname"]; s.Link != here {
		t.Errorf("etc/hostname is a link out of the store but lists as %+v", s)
	}
	local, err := DiffEtc(ctx, LocalTree(old), LocalTree(new))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range local {
		got = append(got, f.Render(nil))
	}
	want := []string{
		"etc/localtime: modified, link to /nonexistent/zoneinfo/UTC -> link to /nonexistent/zoneinfo/Europe/Berlin\n",
		"etc/resolv.conf: removed, link to /run/systemd/resolve/stub-resolv.conf -> absent\n",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	remote, err := DiffEtc(ctx, RemoteTree{Runner: LocalRunner{}, Root: old}, LocalTree(new))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(local, remote) {
		t.Errorf("remote tree result differs:\n%+v\n%+v", remote, local)
	}
}

// cksumTable is POSIX cksum's CRC-32 (polynomial 0x04C11DB7, most
// significant bit first), for forging a collision below.
var cksumTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crcRegister(data []byte) uint32 {
	var c uint32
	for _, b := range data {
		c = c<<8 ^ cksumTable[byte(c>>24)^b]
	}
	return c
}

// posixCksum is what cksum(1) prints first: the register after the data
// and its length (least significant byte first), inverted.
func posixCksum(data []byte) uint32 {
	c := crcRegister(data)
	for n := len(data); n > 0; n >>= 8 {
		c = c<<8 ^ cksumTable[byte(c>>24)^byte(n)]
	}
	return ^c
}

// forgeCRC returns prefix plus four bytes whose CRC register is target:
// running four zero bytes backwards from target gives the register s the
// four bytes must turn the prefix's register r into, and they are r^s.
func forgeCRC(t *testing.T, prefix []byte, target uint32) []byte {
	var byLow [256]byte
	seen := map[byte]bool{}
	for i, v := range cksumTable {
		byLow[byte(v)] = byte(i)
		seen[byte(v)] = true
	}
	if len(seen) != 256 {
		t.Fatal("CRC table low bytes are not distinct")
	}
	s := target
	for range 4 {
		i := byLow[byte(s)]
		s = (s^cksumTable[i])>>8 | uint32(i)<<24
	}
	w := crcRegister(prefix) ^ s
	return append(append([]byte{}, prefix...), byte(w>>24), byte(w>>16), byte(w>>8), byte(w))
}

// TestDiffEtcCRCCollision: two sshd_config files with the same size and
// the same CRC-32 (as cksum computes it) must still show as modified.
func TestDiffEtcCRCCollision(t *testing.T) {
	oldText := []byte("PermitRootLogin no\nPort 22\n#####")
	newText := forgeCRC(t, []byte("PermitRootLogin yes\nPort 22\n"), crcRegister(oldText))
	if len(oldText) != len(newText) || posixCksum(oldText) != posixCksum(newText) || bytes.Equal(oldText, newText) {
		t.Fatalf("no collision: %q (%d) and %q (%d)", oldText, posixCksum(oldText), newText, posixCksum(newText))
	}
	old := etcFixture(t, map[string]string{"ssh/sshd_config": string(oldText)})
	new := etcFixture(t, map[string]string{"ssh/sshd_config": string(newText)})
	if out, err := exec.Command("cksum", filepath.Join(old, "etc/ssh/sshd_config"), filepath.Join(new, "etc/ssh/sshd_config")).Output(); err == nil {
		l := strings.Split(string(out), "\n")
		if strings.Fields(l[0])[0] != strings.Fields(l[1])[0] {
			t.Fatalf("cksum(1) tells the files apart:\n%s", out)
		}
	}
	ctx := context.Background()
	for name, oldTree := range map[string]FileTree{"local": LocalTree(old), "host": RemoteTree{Runner: LocalRunner{}, Root: old}} {
		d, err := DiffEtc(ctx, oldTree, LocalTree(new))
		if err != nil {
			t.Fatal(err)
		}
		if len(d) != 1 || d[0].Path != "etc/ssh/sshd_config" || d[0].Status != "modified" {
			t.Errorf("%s: the forged file does not show as modified: %+v", name, d)
		}
	}
}

// TestDiffEtcKinds: dangling links and empty directories show as added
// or removed, as diff -r reports them; a directory that is empty on one
// side and has files on the other is a directory on both, not removed;
// a type change is a modification. JSON keeps each side's type and link
// text exactly.
func TestDiffEtcKinds(t *testing.T) {
	file := func(s string) FileSum {
		return FileSum{Kind: KindFile, Size: int64(len(s)), SHA256: sha256.Sum256([]byte(s))}
	}
	old := map[string]FileSum{
		"gone.d":    {Kind: KindDir},
		"grown.d":   {Kind: KindDir},
		"broken":    {Kind: KindDangling, Link: "/nix/store/aaa-missing"},
		"was-file":  file("x\n"),
		"same.d":    {Kind: KindDir},
		"localtime": {Kind: KindLink, Link: "/etc/zoneinfo/UTC"},
	}
	new := map[string]FileSum{
		"new.d":        {Kind: KindDir},
		"grown.d/conf": file("y\n"),
		"broken-too":   {Kind: KindDangling, Link: "../x\nEVIL"},
		"was-file":     {Kind: KindLink, Link: "/run/x"},
		"same.d":       {Kind: KindDir},
		"localtime":    {Kind: KindLink, Link: "/etc/zoneinfo/UTC"},
	}
	var got []string
	for _, p := range changedPaths(old, new) {
		f := fileDiff(p, old[p], new[p], nil, []byte("y\n"))
		got = append(got, f.Render(nil))
	}
	want := []string{
		"etc/broken: removed, dangling link to /nix/store/aaa-missing -> absent\n",
		"etc/broken-too: added, absent -> dangling link to ../x\\x0aEVIL\n",
		"etc/gone.d: removed, empty directory -> absent\n",
		"--- /dev/null\n+++ b/etc/grown.d/conf\n@@ -0,0 +1 @@\n+y\n",
		"etc/new.d: added, absent -> empty directory\n",
		"etc/was-file: modified, file of 2 bytes -> link to /run/x\n",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	js, err := json.Marshal(fileDiff("broken-too", FileSum{}, new["broken-too"], nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if w := `{"path":"etc/broken-too","status":"added","new_type":"dangling","old_size":-1,"new_size":0,"new_link":"../x\nEVIL"}`; string(js) != w {
		t.Errorf("JSON\n got %s\nwant %s", js, w)
	}
}
