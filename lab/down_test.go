package lab

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDownLeavesNothing starts a lab, leaves detached processes in its
// hosts (as a detached activation would, and one in a mount namespace of
// its own), takes it down and checks that no process of any host namespace
// survives and no namespace stays mounted.
func TestDownLeavesNothing(t *testing.T) {
	l := Start(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inodes := map[uint64]string{}
	var pids []int
	for _, h := range l.Hosts {
		inodes[l.nsInode(h.Name)] = h.Name
		pids = append(pids, l.sshdPid(h.Name))
		if _, err := l.Exec(ctx, h.Name, []string{"sh", "-c", "setsid -f sleep 600 </dev/null >/dev/null 2>&1"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	nested := filepath.Join(l.hostDir(l.Hosts[0].Name), "run", "nested.pid")
	if _, err := l.Exec(ctx, l.Hosts[0].Name, []string{"sh", "-c", `unshare -m --propagation private setsid -f sh -c 'echo $$ >/run/nested.pid; exec sleep 600' </dev/null >/dev/null 2>&1`}, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; fileSize(nested) == 0; i++ {
		if i > 100 {
			t.Fatal("the process in a namespace of its own did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, err := os.ReadFile(nested)
	if err != nil {
		t.Fatal(err)
	}
	nestedPid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	pids = append(pids, nestedPid)
	if n := len(processesIn(inodes)); n < 2*len(l.Hosts) {
		t.Fatalf("%d processes in the lab before down, want sshd and a sleeper per host", n)
	}
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if left := processesIn(inodes); len(left) != 0 {
		t.Errorf("processes left after down: %v", left)
	}
	for _, pid := range pids {
		// A killed daemon may stay a zombie until init reaps it; it runs no more.
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("pid %d still runs: %s", pid, b)
		}
	}
	for _, h := range l.Hosts {
		if isMountPoint(l.nsFile(h.Name)) {
			t.Errorf("%s: namespace file still mounted", h.Name)
		}
	}
	if isMountPoint(l.nsDir()) {
		t.Errorf("%s still mounted", l.nsDir())
	}
}

// TestSelect checks host selection for lab change: the fleet file's
// grammar, tag globs and suggestions included.
func TestSelect(t *testing.T) {
	l := newLab("/nonexistent", makeHosts(5)) // canary web01 db01 web02 db02
	tests := []struct {
		sel  string
		want string // the names, or the error's text
		err  bool
	}{
		{"", "canary web01 db01 web02 db02", false},
		{"canary", "canary", false},
		{"@web", "web01 web02", false},
		{"web*,!web02", "web01", false},
		{"!@db", "canary web01 web02", false},
		{"@db,canary", "canary db01 db02", false},
		{"@d*", "db01 db02", false},
		{" db02 , web01 ", "web01 db02", false},
		{"nosuch", `lab /nonexistent: selector "nosuch": no node of that name`, true},
		{"webb01", `selector "webb01": no node of that name (did you mean web01?)`, true},
		{"@web,!@nosuch", `selector "!@nosuch": no node has that tag`, true},
		{"web*,!@web", `selector "web*,!@web": selects no node`, true},
		{"web01,,db01", "empty term", true},
		{"!!web01", "double negation", true},
		{"[", "malformed glob", true},
	}
	for _, tt := range tests {
		got, err := l.Select(tt.sel)
		if (err != nil) != tt.err {
			t.Errorf("Select(%q) error %v, want error %v", tt.sel, err, tt.err)
			continue
		}
		if tt.err && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Select(%q) error %q, want it to contain %q", tt.sel, err, tt.want)
		}
		if s := strings.Join(got, " "); !tt.err && s != tt.want {
			t.Errorf("Select(%q) = %q, want %q", tt.sel, s, tt.want)
		}
	}
}

// TestSSHDPortTaken checks that a host whose port was taken while its sshd
// was down reports the bind failure instead of claiming to be up.
func TestSSHDPortTaken(t *testing.T) {
	l := Start(t, 1)
	h := l.Hosts[0]
	if err := l.SetHost(h.Name, false); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(h.Port))
	if err != nil {
		t.Fatal(err)
	}
	err = l.SetHost(h.Name, true)
	ln.Close()
	if !errors.Is(err, errBind) {
		t.Fatalf("SetHost up on a taken port: %v, want the bind failure", err)
	}
	if err := l.SetHost(h.Name, true); err != nil {
		t.Fatalf("SetHost up on a free port: %v", err)
	}
	if l.sshdPid(h.Name) == 0 {
		t.Fatal("sshd not running after SetHost up")
	}
}

// TestUpReplacesLab checks that up in the directory of a running lab,
// even one whose manifest is lost, takes the old hosts down first.
func TestUpReplacesLab(t *testing.T) {
	l := Start(t, 2)
	oldPid := l.sshdPid(l.Hosts[1].Name)
	if err := os.Remove(filepath.Join(l.Dir, manifestName)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l2, err := Up(ctx, Options{Dir: l.Dir, Hosts: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Down(ctx)
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(oldPid) + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
		t.Errorf("old sshd %d of %s still runs", oldPid, l.Hosts[1].Name)
	}
	if isMountPoint(l.nsFile(l.Hosts[1].Name)) {
		t.Errorf("old host %s's namespace is still mounted", l.Hosts[1].Name)
	}
	if l2.sshdPid(l2.Hosts[0].Name) == 0 {
		t.Errorf("new lab's sshd is not running")
	}
}

// TestDownWithoutManifest checks that a lab whose lab.json is gone (an up
// that was interrupted, files removed by hand) can still be taken down.
func TestDownWithoutManifest(t *testing.T) {
	l := Start(t, 1)
	name := l.Hosts[0].Name
	pid := l.sshdPid(name)
	if err := os.Remove(filepath.Join(l.Dir, manifestName)); err != nil {
		t.Fatal(err)
	}
	l2, err := OpenForDown(l.Dir)
	if err != nil {
		t.Fatalf("OpenForDown without lab.json: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l2.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
		t.Errorf("sshd %d still runs", pid)
	}
	if isMountPoint(l.nsFile(name)) {
		t.Errorf("%s: namespace file still mounted", name)
	}
	if _, err := OpenForDown(t.TempDir()); err == nil {
		t.Errorf("OpenForDown of an empty directory found a lab")
	}
}
