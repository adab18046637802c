package nix

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const holderLine = "alice@ops1 pid=4242 op=deploy-20240701T100000-3f2a9c since=2024-07-01T10:00:00Z"

func TestAcquireLock(t *testing.T) {
	req := LockRequest{OpID: "deploy-b", Owner: "bob@ops2", PID: 77, StaleAfter: 90 * time.Second}
	argv := func(brk string) []string {
		return []string{"sh", "-c", acquireScript, "sh", "/run/nixdeck/lock", "deploy-b", "bob@ops2", "77", brk, "90"}
	}
	since := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		brk      bool
		reply    string
		wantErr  string
		held     *LockHeldError
		broke    *LockHolder
		isSwitch bool
	}{
		{name: "a free lock is taken", reply: "result=acquired\n"},
		{name: "a held lock names its holder", reply: "holder=" + holderLine + "\nage=125\nover=0\nresult=held\n",
			held: &LockHeldError{Path: "/run/nixdeck/lock", Holder: holderLine, Since: since, OpID: "deploy-20240701T100000-3f2a9c", Age: 125 * time.Second}},
		{name: "a refused break says why", brk: true, reply: "holder=" + holderLine + "\nage=30\nover=0\nresult=held\n",
			held: &LockHeldError{Path: "/run/nixdeck/lock", Holder: holderLine, Since: since, OpID: "deploy-20240701T100000-3f2a9c", Age: 30 * time.Second,
				Reason: "its operation deploy-20240701T100000-3f2a9c is still running, and the lock is younger than 1m30s"}},
		{name: "a break names whom it broke", brk: true, reply: "holder=" + holderLine + "\nage=30\nover=1\nresult=broke\n",
			broke: &LockHolder{Owner: "alice@ops1", PID: 4242, OpID: "deploy-20240701T100000-3f2a9c", Since: since}},
		{name: "a lock without an owner yet", reply: "holder=\nage=0\nover=0\nresult=held\n",
			held: &LockHeldError{Path: "/run/nixdeck/lock", Holder: "(owner not yet written)"}},
		{name: "a hostile owner line is quoted, never raw", reply: "holder=\x1b[2Jmallory pid=1 op=x since=now\nage=5\nover=0\nresult=held\n",
			held: &LockHeldError{Path: "/run/nixdeck/lock", Holder: `an unreadable owner "\x1b[2Jmallory pid=1 op=x since=now"`, Age: 5 * time.Second}},
		{name: "switch-to-configuration running", reply: "result=switching\n", isSwitch: true, wantErr: "switch-to-configuration is running"},
		{name: "no result", reply: "holder=x\n", wantErr: "without a result"},
		{name: "result not last", reply: "result=held\nage=3\n", wantErr: "unexpected result"},
		{name: "unknown result", reply: "result=yes\n", wantErr: "unexpected result"},
		{name: "a key twice", reply: "age=1\nage=2\nresult=held\n", wantErr: "line 2"},
		{name: "an unknown key", reply: "mood=good\nresult=acquired\n", wantErr: "unknown key"},
		{name: "over neither 0 nor 1", reply: "over=yes\nresult=held\n", wantErr: "not 0 or 1"},
		{name: "cut short", reply: "result=acq", wantErr: "incomplete"},
		{name: "an endless owner line", reply: "holder=" + strings.Repeat("x", 600) + "\nresult=held\n", wantErr: "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRunner(t)
			brk := "0"
			if tt.brk {
				brk = "1"
			}
			f.expect(argv(brk)...).priv().out(tt.reply)
			r := req
			r.Break = tt.brk
			broke, err := AcquireLock(context.Background(), f, r)
			var held *LockHeldError
			switch {
			case tt.held != nil:
				if !errors.As(err, &held) || *held != *tt.held {
					t.Fatalf("AcquireLock() error = %#v, want %#v", err, tt.held)
				}
				if strings.ContainsRune(err.Error(), 0x1b) {
					t.Errorf("error carries the host's escape byte: %q", err)
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, ErrSwitchLockHeld) != tt.isSwitch {
					t.Fatalf("AcquireLock() error = %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("AcquireLock() error: %v", err)
			}
			if (broke == nil) != (tt.broke == nil) || broke != nil && *broke != *tt.broke {
				t.Errorf("broke = %+v, want %+v", broke, tt.broke)
			}
		})
	}
}

func TestLockRejectsBadRequests(t *testing.T) {
	good := LockRequest{OpID: "deploy-1", Owner: "bob@ops2", PID: 1}
	for _, bad := range []func(*LockRequest){
		func(r *LockRequest) { r.OpID = "../../etc" },
		func(r *LockRequest) { r.OpID = ".mutex" },
		func(r *LockRequest) { r.OpID = "lock-web" },
		func(r *LockRequest) { r.OpID = "" },
		func(r *LockRequest) { r.Owner = "bob" },
		func(r *LockRequest) { r.Owner = "bob smith@ops" },
		func(r *LockRequest) { r.Owner = "bob@ops\nresult=acquired" },
		func(r *LockRequest) { r.Profile = "../system" },
		func(r *LockRequest) { r.PID = -1 },
	} {
		r := good
		bad(&r)
		if _, err := AcquireLock(context.Background(), newFakeRunner(t), r); err == nil {
			t.Errorf("AcquireLock(%+v) accepted", r)
		}
	}
	if err := ReleaseLock(context.Background(), newFakeRunner(t), "system", "x/y"); err == nil {
		t.Error("ReleaseLock accepted a bad operation id")
	}
}

func TestReleaseLock(t *testing.T) {
	tests := []struct {
		reply, want string
		lost        bool
	}{
		{reply: "result=released\n"},
		{reply: "holder=" + holderLine + "\nresult=other\n", want: "held by " + holderLine, lost: true},
		{reply: "result=absent\n", want: "it is gone", lost: true},
		{reply: "result=acquired\n", want: "unexpected result"},
	}
	for _, tt := range tests {
		f := newFakeRunner(t)
		f.expect("sh", "-c", releaseScript, "sh", "/run/nixdeck/lock-web", "deploy-b").priv().out(tt.reply)
		err := ReleaseLock(context.Background(), f, "web", "deploy-b")
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) || errors.Is(err, ErrLockLost) != tt.lost {
			t.Errorf("reply %q: ReleaseLock() = %v, want %q (lost %v)", tt.reply, err, tt.want, tt.lost)
		}
	}
}

func TestLockPathAndOwner(t *testing.T) {
	for profile, want := range map[string]string{"": "/run/nixdeck/lock", "system": "/run/nixdeck/lock", "web-app": "/run/nixdeck/lock-web-app"} {
		if got, err := LockPath(profile); got != want || err != nil {
			t.Errorf("LockPath(%q) = %q, %v; want %q", profile, got, err, want)
		}
	}
	if o := LocalOwner(); !validOwner(o) {
		t.Errorf("LocalOwner() = %q, not an owner", o)
	}
	h := LockHolder{Owner: "alice@ops1", PID: 4242, OpID: "deploy-20240701T100000-3f2a9c", Since: time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)}
	if got, err := parseHolder(h.String()); got != h || err != nil || h.String() != holderLine {
		t.Errorf("owner line %q parses as %+v, %v", h.String(), got, err)
	}
}
