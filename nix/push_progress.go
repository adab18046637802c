package nix

import (
	"cmp"
	"encoding/json"
	"fmt"
	"nixdeck/internal/termtext"
	"regexp"
	"strings"
	"sync"
)

// `nix copy --log-format internal-json` reports on stderr, one line per
// event, "@nix " and a JSON object: activities start (with a type and
// text), may send results (progress: done, expected, …) and stop;
// messages carry Nix's log lines, errors among them. A copy is one
// activity of type copyPaths ("copying 84 paths") over one of type
// copyPath per path (fields: the path, source, destination). Nix 2.8
// sends no progress results for a copy at all, current Nix does: so a
// path counts as done when its activity stops, and its bytes are its
// progress when Nix reported any, else its NAR size as the source store
// recorded it (sizes). The parser keeps no more than it needs: the
// activities it counts, bounded, and the last error lines.

// Nix's activity and result types (src/libutil/logging.hh).
const (
	actCopyPath  = 100
	actCopyPaths = 103
	resProgress  = 105
)

// maxActivities bounds the activities the parser tracks at once: a copy
// runs a few at a time.
const maxActivities = 1 << 12

// The totals are sums over as many activities as Nix starts and stops,
// which a hostile builder's store can keep doing: they stop at these
// bounds (more paths than any closure holds, more bytes than JSON
// carries exactly) instead of growing until they wrap.
const (
	maxPushPaths = 1 << 30
	maxPushBytes = 1 << 53
)

// PushProgress is how far a push has got.
type PushProgress struct {
	Paths, PathsTotal int
	Bytes             int64
}

// copyAct is one copyPath activity under way.
type copyAct struct {
	path  string
	bytes int64
}

// pushLog parses internal-json lines into progress and Nix's error.
type pushLog struct {
	mu       sync.Mutex
	acts     map[int64]*copyAct // copyPath activities running
	lists    map[int64]bool     // copyPaths activities running
	sizes    map[string]int64   // NAR sizes of the paths pushed
	p        PushProgress       // of finished paths, and the totals
	errs     lineTail
	progress func(PushProgress)
}

func newPushLog(sizes map[string]int64, progress func(PushProgress)) *pushLog {
	return &pushLog{acts: map[int64]*copyAct{}, lists: map[int64]bool{}, sizes: sizes,
		errs: lineTail{max: 10}, progress: progress}
}

// nixEvent is the part of an internal-json line the parser reads.
type nixEvent struct {
	Action string            `json:"action"`
	ID     int64             `json:"id"`
	Type   int               `json:"type"`
	Level  int               `json:"level"`
	Text   string            `json:"text"`
	Msg    string            `json:"msg"`
	RawMsg string            `json:"raw_msg"`
	Fields []json.RawMessage `json:"fields"`
}

// line takes one stderr line. Anything that is not an event Nix would
// send (another program's output, a bad number) is kept as text, for
// the error message, and never counted.
func (l *pushLog) line(s string) {
	j, ok := strings.CutPrefix(s, "@nix ")
	var ev nixEvent
	if !ok || json.Unmarshal([]byte(j), &ev) != nil {
		if t := strings.TrimSpace(s); t != "" {
			l.errs.add(sanitizeLine(t))
		}
		return
	}
	l.mu.Lock()
	changed := l.apply(ev)
	p := l.now()
	l.mu.Unlock()
	if changed && l.progress != nil {
		l.progress(p)
	}
}

// apply records ev; it says whether the progress changed.
func (l *pushLog) apply(ev nixEvent) bool {
	switch ev.Action {
	case "start":
		if len(l.acts)+len(l.lists) >= maxActivities {
			return false
		}
		switch ev.Type {
		case actCopyPath:
			a := &copyAct{}
			if len(ev.Fields) > 0 && json.Unmarshal(ev.Fields[0], &a.path) == nil && checkStoreObject(a.path) != nil {
				// Only a store path is kept (≤ 256 bytes), to look up
				// its size: 4,096 activities must not hold 64 KiB each.
				a.path = ""
			}
			l.acts[ev.ID] = a
		case actCopyPaths:
			l.lists[ev.ID] = true
			var n int
			if _, err := fmt.Sscanf(ev.Text, "copying %d paths", &n); err == nil && n > 0 && n < 1<<30 {
				l.p.PathsTotal = int(capped(int64(l.p.PathsTotal), int64(n), maxPushPaths))
				return true
			}
		}
	case "stop":
		a, ok := l.acts[ev.ID]
		delete(l.lists, ev.ID)
		if !ok {
			return false
		}
		delete(l.acts, ev.ID)
		l.p.Paths = int(capped(int64(l.p.Paths), 1, maxPushPaths))
		if a.bytes == 0 {
			a.bytes = l.sizes[a.path]
		}
		l.p.Bytes = capped(l.p.Bytes, a.bytes, maxPushBytes)
		return true
	case "result":
		a, ok := l.acts[ev.ID]
		if ev.Type != resProgress || len(ev.Fields) < 2 || !ok {
			return false
		}
		if done, ok := field(ev.Fields[0]); ok {
			a.bytes = done
			return true
		}
	case "msg":
		if ev.Level == 0 { // lvlError; raw_msg lacks the "error: " prefix
			l.errs.add(sanitizeLine(cmp.Or(ev.RawMsg, strings.TrimPrefix(sgrRE.ReplaceAllString(ev.Msg, ""), "error: "))))
		}
	}
	return false
}

// capped is a+b for non-negative numbers, at most max.
func capped(a, b, max int64) int64 {
	if b >= max-a {
		return max
	}
	return a + b
}

// field reads a progress number: non-negative, at most 2^53 (what JSON
// carries exactly); the sums of many are capped apart.
func field(raw json.RawMessage) (int64, bool) {
	var f float64
	if json.Unmarshal(raw, &f) != nil || f < 0 || f > 1<<53 || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

// now adds the paths under way to the finished ones; called with mu held.
func (l *pushLog) now() PushProgress {
	p := l.p
	for _, a := range l.acts {
		p.Bytes = capped(p.Bytes, a.bytes, maxPushBytes)
	}
	return p
}

// Progress returns the progress so far.
func (l *pushLog) Progress() PushProgress {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now()
}

// reason is Nix's error message, or its last lines.
func (l *pushLog) reason() string { return l.errs.String() }

// sgrRE matches the colour sequences Nix puts in its messages.
var sgrRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

// sanitizeLine keeps a message printable: Nix's colours are dropped,
// anything else a terminal would act on is escaped (termtext), and the
// line is cut.
func sanitizeLine(s string) string {
	const max = 512
	if len(s) > 4*max {
		s = s[:4*max]
	}
	s = termtext.Visible(sgrRE.ReplaceAllString(s, ""))
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}
