package lab_test

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

	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// detach starts `sleep 600` on host, detached from the command that
// started it (as a detached activation is); with ownNS it runs in a mount
// namespace of its own made from the host's. It returns the sleeper's pid,
// printed on a descriptor it closes before it sleeps, so Exec returns once
// the sleeper runs.
func detach(ctx context.Context, t *testing.T, l *lab.Lab, host string, ownNS bool) int {
	t.Helper()
	script := `setsid -f sh -c 'echo $$ >&3; exec sleep 600 3>&-' 3>&1 </dev/null >/dev/null 2>&1`
	if ownNS {
		script = `unshare -m --propagation private ` + script
	}
	out, err := l.Exec(ctx, host, []string{"sh", "-c", script}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("%s: detached sleeper printed %q", host, out)
	}
	return pid
}

// running reports whether pid runs; a killed daemon may stay a zombie
// until init reaps it, which counts as not running.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// TestDownLeavesNothing starts a mixed lab, leaves detached processes in
// its hosts (as a detached activation would, and one in a mount namespace
// of its own), takes it down and checks that no process of any host
// namespace survives and no namespace stays mounted. The current-Nix
// host's processes see the root, not the machine's /, and must go too.
func TestDownLeavesNothing(t *testing.T) {
	l := labtest.StartMixed(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	held := lab.Hold(t, l)
	var pids []int
	for _, h := range l.Hosts {
		pids = append(pids, l.SSHDPid(h.Name), detach(ctx, t, l, h.Name, false), detach(ctx, t, l, h.Name, true))
	}
	if procs := held.Processes(); len(procs) < 3*len(l.Hosts) {
		t.Fatalf("%d processes in the lab before down (%v), want sshd and two sleepers per host", len(procs), procs)
	}
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if left := held.Processes(); len(left) != 0 {
		t.Errorf("processes left after down: %v", left)
	}
	for _, pid := range pids {
		if running(pid) {
			t.Errorf("pid %d still runs", pid)
		}
	}
	for _, h := range l.Hosts {
		if lab.IsMountPoint(l.NSFile(h.Name)) {
			t.Errorf("%s: namespace file still mounted", h.Name)
		}
	}
	if lab.IsMountPoint(l.NSDir()) {
		t.Errorf("%s still mounted", l.NSDir())
	}
}

// TestDownSparesOtherLab takes one of two running labs down: every host of
// the other still answers over SSH and keeps its processes, also those in
// namespaces of their own. A third lab brought up while the first one's
// namespaces are held open gets namespaces of its own: a held namespace's
// inode number is not reused, which is what keeps Down from mistaking a
// newer lab's processes for its own.
func TestDownSparesOtherLab(t *testing.T) {
	a, b := labtest.Start(t, 2), labtest.Start(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	heldA, heldB := lab.Hold(t, a), lab.Hold(t, b)
	for _, l := range []*lab.Lab{a, b} {
		for _, h := range l.Hosts {
			detach(ctx, t, l, h.Name, false)
		}
		detach(ctx, t, l, l.Hosts[1].Name, true)
	}
	before := heldB.Processes()
	if err := a.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if left := heldA.Processes(); len(left) != 0 {
		t.Errorf("processes of the lab taken down left: %v", left)
	}
	for pid, host := range before {
		if !running(pid) {
			t.Errorf("%s: process %d of the other lab was killed", host, pid)
		}
	}
	for _, h := range b.Hosts {
		c, err := dial(ctx, b, h)
		if err != nil {
			t.Errorf("%s of the other lab: %v", h.Name, err)
			continue
		}
		if out, err := run(ctx, c, "true"); err != nil {
			t.Errorf("%s of the other lab: %v %s", h.Name, err, out)
		}
		c.Close()
	}

	c := labtest.Start(t, 2)
	if lab.Hold(t, c).Shares(heldA) {
		t.Errorf("a new lab's namespace took the number of one still held")
	}
	if left := heldA.Processes(); len(left) != 0 {
		t.Errorf("the held namespaces of the lab taken down match the new lab's processes: %v", left)
	}
}

// TestSSHDPortTaken checks that a host whose port was taken while its sshd
// was down reports the bind failure instead of claiming to be up.
func TestSSHDPortTaken(t *testing.T) {
	l := labtest.Start(t, 1)
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
	if !errors.Is(err, lab.ErrBind) {
		t.Fatalf("SetHost up on a taken port: %v, want the bind failure", err)
	}
	if err := l.SetHost(h.Name, true); err != nil {
		t.Fatalf("SetHost up on a free port: %v", err)
	}
	if l.SSHDPid(h.Name) == 0 {
		t.Fatal("sshd not running after SetHost up")
	}
}

// TestUpReplacesLab checks that up in the directory of a running lab,
// even one whose manifest is lost, takes the old hosts down first.
func TestUpReplacesLab(t *testing.T) {
	l := labtest.Start(t, 2)
	oldPid := l.SSHDPid(l.Hosts[1].Name)
	if err := os.Remove(filepath.Join(l.Dir, lab.ManifestName)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l2, err := lab.Up(ctx, lab.Options{Dir: l.Dir, Hosts: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Down(ctx)
	if running(oldPid) {
		t.Errorf("old sshd %d of %s still runs", oldPid, l.Hosts[1].Name)
	}
	if lab.IsMountPoint(l.NSFile(l.Hosts[1].Name)) {
		t.Errorf("old host %s's namespace is still mounted", l.Hosts[1].Name)
	}
	if l2.SSHDPid(l2.Hosts[0].Name) == 0 {
		t.Errorf("new lab's sshd is not running")
	}
}

// TestDownWithoutManifest checks that a lab whose lab.json is gone (an up
// that was interrupted, files removed by hand) can still be taken down.
func TestDownWithoutManifest(t *testing.T) {
	l := labtest.Start(t, 1)
	name := l.Hosts[0].Name
	pid := l.SSHDPid(name)
	if err := os.Remove(filepath.Join(l.Dir, lab.ManifestName)); err != nil {
		t.Fatal(err)
	}
	l2, err := lab.OpenForDown(l.Dir)
	if err != nil {
		t.Fatalf("OpenForDown without lab.json: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l2.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if running(pid) {
		t.Errorf("sshd %d still runs", pid)
	}
	if lab.IsMountPoint(l.NSFile(name)) {
		t.Errorf("%s: namespace file still mounted", name)
	}
	if _, err := lab.OpenForDown(t.TempDir()); err == nil {
		t.Errorf("OpenForDown of an empty directory found a lab")
	}
}
