package nix

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestPushLogNix28 reads what Nix 2.8's `nix copy --log-format
// internal-json` printed for a push of 19 paths to a file:// cache (no
// progress results at all): each path counts as it stops, with the NAR
// size the source store recorded.
func TestPushLogNix28(t *testing.T) {
	b, err := os.ReadFile("testdata/push-2.8.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{
		"/nix/store/kphgfm887lb28vig0ar1ns9bnl3pmyb3-glibc-2.39-52":  1000,
		"/nix/store/8x1sf4nfvcmijl98ijvvcl1x1wp13b73-etc-os-release": 24,
	}
	var calls []PushProgress
	l := newPushLog(sizes, func(p PushProgress) { calls = append(calls, p) })
	for _, line := range strings.Split(string(b), "\n") {
		l.line(line)
	}
	want := PushProgress{Paths: 19, PathsTotal: 19, Bytes: 1024}
	if got := l.Progress(); got != want {
		t.Errorf("progress %+v, want %+v", got, want)
	}
	if len(calls) != 20 || calls[0] != (PushProgress{PathsTotal: 19}) || calls[1].Paths != 1 || calls[1].Bytes != 1000 {
		t.Errorf("progress calls %d: first %+v", len(calls), calls[:min(2, len(calls))])
	}
	if r := l.reason(); r != "" {
		t.Errorf("reason %q from a clean log", r)
	}
}

// TestPushLogResults reads current Nix's byte progress: a path under way
// counts its bytes so far, and its reported total once it stops.
func TestPushLogResults(t *testing.T) {
	l := newPushLog(map[string]int64{"/nix/store/a": 5}, nil)
	for _, s := range []string{
		`@nix {"action":"start","id":1,"level":3,"text":"copying 2 paths","type":103}`,
		`@nix {"action":"start","id":2,"fields":["/nix/store/a","local","file:///c"],"level":3,"text":"copying path","type":100}`,
		`@nix {"action":"result","id":2,"type":105,"fields":[4096,8192,0,0]}`,
	} {
		l.line(s)
	}
	if got := l.Progress(); got != (PushProgress{PathsTotal: 2, Bytes: 4096}) {
		t.Errorf("under way: %+v", got)
	}
	l.line(`@nix {"action":"result","id":2,"type":105,"fields":[8192,8192,0,0]}`)
	l.line(`@nix {"action":"stop","id":2}`)
	if got := l.Progress(); got != (PushProgress{Paths: 1, PathsTotal: 2, Bytes: 8192}) {
		t.Errorf("stopped: %+v", got)
	}
}

// TestPushLogHostile feeds lines a broken or hostile Nix (or a builder's
// store through it) might print: nothing of it may count, wrap a number
// or reach the reason unsanitised.
func TestPushLogHostile(t *testing.T) {
	l := newPushLog(nil, nil)
	for _, s := range []string{
		`@nix {"action":"start","id":1,"type":103,"text":"copying 99999999999999 paths"}`,
		`@nix {"action":"start","id":1,"type":103,"text":"copying -5 paths"}`,
		`@nix {"action":"start","id":2,"type":100,"fields":[7]}`,
		`@nix {"action":"result","id":2,"type":105,"fields":[-1,5]}`,
		`@nix {"action":"result","id":2,"type":105,"fields":[1e300,5]}`,
		`@nix {"action":"result","id":2,"type":105,"fields":[1.5,5]}`,
		`@nix {"action":"result","id":2,"type":105,"fields":["big",5]}`,
		`@nix {"action":"result","id":3,"type":105,"fields":[100,100]}`,
		`@nix {"action":"result","id":2,"type":105}`,
		`@nix {"action":"stop","id":99}`,
		`@nix {not json`,
		`@nix {"action":"msg","level":0,"msg":"\u001b[31;1merror:\u001b[0m cannot open \u001b[2Jcache"}`,
	} {
		l.line(s)
	}
	l.line(`@nix {"action":"stop","id":2}`)
	if got := l.Progress(); got != (PushProgress{Paths: 1}) {
		t.Errorf("progress %+v, want one path of unknown size", got)
	}
	r := l.reason()
	if strings.ContainsRune(r, 0x1b) || !strings.HasSuffix(r, "\ncannot open \\x1b[2Jcache") {
		t.Errorf("reason %q", r)
	}
	for i := 0; i < 2*maxActivities; i++ {
		l.line(`@nix {"action":"start","id":` + strconv.Itoa(1000+i) + `,"type":100}`)
	}
	if len(l.acts) > maxActivities {
		t.Errorf("%d activities kept", len(l.acts))
	}
}

// TestPushLogHostileTotals: a Nix copying from a hostile builder's store
// starts and stops activities for ever, with the longest paths a line
// holds and the largest sizes a number holds. The parser keeps no path
// longer than a store path, and its totals stop at their caps instead
// of growing until they wrap.
func TestPushLogHostileTotals(t *testing.T) {
	l := newPushLog(nil, nil)
	long := `"/nix/store/` + strings.Repeat("a", 60<<10) + `"`
	big := strconv.FormatInt(1<<53, 10)
	for i := range maxActivities {
		id := strconv.Itoa(10 + i)
		path := `"/nix/store/kphgfm887lb28vig0ar1ns9bnl3pmyb3-glibc"`
		if i < 64 { // enough to see none is kept, and quick to parse
			path = long
		}
		l.line(`@nix {"action":"start","id":` + id + `,"type":100,"fields":[` + path + `]}`)
		l.line(`@nix {"action":"result","id":` + id + `,"type":105,"fields":[` + big + `,` + big + `]}`)
	}
	for _, a := range l.acts {
		if len(a.path) > 256 {
			t.Fatalf("kept a path of %d bytes", len(a.path))
		}
	}
	if got := l.Progress(); got.Bytes < 0 || got.Bytes > maxPushBytes {
		t.Errorf("bytes under way %d", got.Bytes)
	}
	for i := range maxActivities {
		l.line(`@nix {"action":"stop","id":` + strconv.Itoa(10+i) + `}`)
	}
	for i := range 8 {
		l.line(`@nix {"action":"start","id":` + strconv.Itoa(i) + `,"type":103,"text":"copying 1073741823 paths"}`)
		l.line(`@nix {"action":"stop","id":` + strconv.Itoa(i) + `}`)
	}
	got := l.Progress()
	if got.Bytes != maxPushBytes || got.PathsTotal != maxPushPaths || got.Paths != maxActivities {
		t.Errorf("progress %+v: bytes and total paths stop at %d and %d", got, int64(maxPushBytes), maxPushPaths)
	}
	// A store path is kept, to look its size up.
	l = newPushLog(map[string]int64{"/nix/store/kphgfm887lb28vig0ar1ns9bnl3pmyb3-glibc-2.39-52": 7}, nil)
	l.line(`@nix {"action":"start","id":1,"type":100,"fields":["/nix/store/kphgfm887lb28vig0ar1ns9bnl3pmyb3-glibc-2.39-52"]}`)
	l.line(`@nix {"action":"stop","id":1}`)
	if got := l.Progress(); got != (PushProgress{Paths: 1, Bytes: 7}) {
		t.Errorf("progress %+v", got)
	}
}
