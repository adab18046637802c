package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"

	"nixdeck/fleet"
	"nixdeck/nix"
	"nixdeck/ui/styles"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -run %s -update rewrites it):\n%s", path, t.Name(), got)
	}
}

// Times vary from run to run: durations, and the timestamps in operation ids.
var (
	durationRE = regexp.MustCompile(`\b\d+(\.\d+)?(ms|s)\b|\b\d+m\d\ds\b`)
	opIDRE     = regexp.MustCompile(`\b(deploy|rollback|build|diff|status)-\d{8}T\d{6}-[0-9a-f]{6}\b`)
)

// maskTimes replaces what changes between runs of the same rollout. A
// table's columns are as wide as their widest duration: runs of spaces
// become two, as the table separates its columns.
func maskTimes(s string) string {
	s = opIDRE.ReplaceAllString(s, "$1-ID")
	s = durationRE.ReplaceAllString(s, "D")
	return spacesRE.ReplaceAllString(s, "  ")
}

var spacesRE = regexp.MustCompile(`   +`)

// eventLog builds a synthetic event stream, as fleet's engine emits it.
type eventLog struct {
	at     time.Time
	op     string
	events []fleet.Event
}

func (l *eventLog) base(host string) fleet.EventBase {
	l.at = l.at.Add(100 * time.Millisecond)
	return fleet.EventBase{OpID: l.op, HostName: host, Time: l.at}
}

func (l *eventLog) add(es ...fleet.Event) { l.events = append(l.events, es...) }

func (l *eventLog) phase(host string, ps ...fleet.Phase) {
	for _, p := range ps {
		l.add(fleet.PhaseEvent{EventBase: l.base(host), Phase: p})
	}
}

func (l *eventLog) log(host, source, line string) {
	l.add(fleet.LogEvent{EventBase: l.base(host), Source: source, Line: line})
}

const (
	sysA = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-web-24.05.1"
	sysB = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-web-24.05.2"
)

// canaryDeploy is the events of a deploy to web01 (canary), web02 and
// web03: the build, the diff, then the rollout: the canary passes, web02
// is done, web03 locks itself out of SSH and rolls itself back.
func canaryDeploy() []fleet.Event {
	hosts := []string{"web01", "web02", "web03"}
	l := &eventLog{at: time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC), op: "build-20240701T100000-aaaaaa"}
	l.add(fleet.OpStarted{EventBase: l.base(""), Kind: "build", Hosts: hosts})
	for _, h := range hosts {
		l.phase(h, fleet.PhaseQueued, fleet.PhaseBuilding)
	}
	l.log("", "build", "these 2 derivations will be built:")
	for _, h := range hosts {
		l.add(fleet.BuiltEvent{EventBase: l.base(h), System: sysB})
		l.phase(h, fleet.PhaseDone)
		l.add(fleet.DoneEvent{EventBase: l.base(h)})
	}
	l.add(fleet.OpFinished{EventBase: l.base("")})

	l.op = "diff-20240701T100001-bbbbbb"
	l.add(fleet.OpStarted{EventBase: l.base(""), Kind: "diff", Hosts: hosts})
	for _, h := range slices.Backward(hosts) { // they answer in any order; the lines come in fleet order
		l.phase(h, fleet.PhaseQueued, fleet.PhaseConnecting, fleet.PhaseReading)
		l.add(fleet.DiffEvent{EventBase: l.base(h), Diff: &fleet.HostDiff{Host: h, Current: sysA, New: sysB,
			Diff: &nix.ClosureDiff{Versions: []nix.PackageChange{{Name: "nginx", State: "U"}, {Name: "openssl", State: "U"}, {Name: "curl", State: "D"}},
				Added: []nix.PackageChange{{Name: "jq", State: "A"}}, OldSize: 100 << 20, NewSize: 148<<20 + 100<<10},
			RebootFor: map[bool][]string{true: {"kernel"}}[h == "web01"]}})
		l.phase(h, fleet.PhaseDone)
		l.add(fleet.DoneEvent{EventBase: l.base(h)})
	}
	l.add(fleet.OpFinished{EventBase: l.base("")})

	l.op = "deploy-20240701T100002-cccccc"
	l.add(fleet.OpStarted{EventBase: l.base(""), Kind: "deploy", Hosts: hosts},
		fleet.RolloutStarted{EventBase: l.base(""), Kind: "deploy", Action: "switch", Profile: "system", Selector: "@web",
			Owner: "alice@desk", Canary: []string{"web01"}, Waves: [][]string{{"web01"}, {"web02", "web03"}}})
	for _, h := range hosts {
		l.phase(h, fleet.PhaseQueued)
	}
	deployed := func(h string) {
		l.phase(h, fleet.PhaseConnecting, fleet.PhaseReading, fleet.PhaseLocking)
		l.add(fleet.CopyEvent{EventBase: l.base(h), CopyProgress: nix.CopyProgress{PathsTotal: 212, BytesTotal: 48<<20 + 100<<10}},
			fleet.CopyEvent{EventBase: l.base(h), CopyProgress: nix.CopyProgress{PathsDone: 212, PathsTotal: 212, BytesDone: 48<<20 + 100<<10, BytesTotal: 48<<20 + 100<<10}})
		src := fleet.CopySourceEvent{EventBase: l.base(h), Substituting: true, FromCache: 812, FromOperator: 212, Bytes: 50434458}
		if h == "web03" { // its Nix refused the cache's paths: the operator sent them
			src.Problem, src.Fallback = nix.SubstUntrusted, true
			src.Detail = "ignoring substitute for '/nix/store/abc-x' from 'https://cache.example.com', as it's not signed by any of the keys in 'trusted-public-keys'"
		}
		l.add(src)
		l.log(h, "copy", "copied 212 of 1024 paths (50434458 bytes), 812 substituted on the host")
		l.phase(h, fleet.PhaseRooting, fleet.PhaseProfile, fleet.PhaseActivating)
		l.log(h, "activate", "activating the configuration...")
		l.log(h, "activate", "restarting the following units: nginx.service")
	}
	l.add(fleet.WaveStarted{EventBase: l.base(""), Wave: 1, Canary: true, Hosts: []string{"web01"}})
	deployed("web01")
	l.add(fleet.ActivationEvent{EventBase: l.base("web01"), Action: nix.Switch, Result: nix.ActivateResult{Outcome: nix.OutcomeDone}})
	l.phase("web01", fleet.PhaseConfirming, fleet.PhaseHealth)
	l.log("web01", "health", "http http://web01:8080/health: 200 OK")
	l.phase("web01", fleet.PhaseSoaking, fleet.PhaseDone)
	l.add(fleet.HostOutcome{EventBase: l.base("web01"), Outcome: fleet.OutcomeDone, FromSystem: sysA, ToSystem: sysB,
		FromGen: 41, ToGen: 42, Cause: "reboot needed (kernel)", Duration: 31200 * time.Millisecond},
		fleet.DoneEvent{EventBase: l.base("web01")},
		fleet.WaveHealthy{EventBase: l.base(""), Wave: 1},
		fleet.WaveStarted{EventBase: l.base(""), Wave: 2, Hosts: []string{"web02", "web03"}})
	deployed("web02")
	deployed("web03")
	l.add(fleet.ActivationEvent{EventBase: l.base("web02"), Action: nix.Switch, Result: nix.ActivateResult{Outcome: nix.OutcomeDone}})
	l.phase("web02", fleet.PhaseConfirming, fleet.PhaseDone)
	l.add(fleet.HostOutcome{EventBase: l.base("web02"), Outcome: fleet.OutcomeDone, FromSystem: sysA, ToSystem: sysB,
		FromGen: 41, ToGen: 42, Duration: 2500 * time.Millisecond},
		fleet.DoneEvent{EventBase: l.base("web02")})
	l.add(fleet.ActivationEvent{EventBase: l.base("web03"), Action: nix.Switch, Result: nix.ActivateResult{Outcome: nix.OutcomeDone}})
	l.phase("web03", fleet.PhaseConfirming)
	l.log("web03", "activate", "no confirmation within 30s: rolling back to generation 41")
	l.phase("web03", fleet.PhaseFailed)
	l.add(fleet.HostOutcome{EventBase: l.base("web03"), Outcome: fleet.OutcomeRolledBack, FromSystem: sysA, ToSystem: sysB,
		FromGen: 41, ToGen: 42, Cause: "rolled back: no SSH after activation", Duration: 47*time.Second + 300*time.Millisecond},
		fleet.DoneEvent{EventBase: l.base("web03"), Err: &fleet.HostError{Host: "web03", Err: errors.New("rolled back: no SSH after activation")}},
		fleet.WaveHealthy{EventBase: l.base(""), Wave: 2},
		fleet.OpFinished{EventBase: l.base("")})
	return l.events
}

// printAll feeds events to a printer on a buffer and returns what it
// printed with the summary, and the exit error.
func printAll(events []fleet.Event, asJSON bool) (string, error) {
	var b bytes.Buffer
	p := newPrinter(&b, asJSON)
	for _, e := range events {
		p.event(e)
	}
	err := p.finish()
	return b.String(), err
}

// The headless output of a canary rollout: one line per event, prefixed
// by its host, then the table.
func TestPrintCanaryRolloutGolden(t *testing.T) {
	out, err := printAll(canaryDeploy(), false)
	checkGolden(t, "deploy_canary.golden", maskTimes(out))
	// The mask loses the table's alignment; here it is, times and all.
	table := "HOST   OUTCOME      GENERATION  DURATION  CAUSE\n" +
		"web01  done         41 → 42     31.2s     reboot needed (kernel)\n" +
		"web02  done         41 → 42     2.5s      -\n" +
		"web03  rolled back  41 → 42     47.3s     rolled back: no SSH after activation\n"
	if !strings.HasSuffix(out, "\n\n"+table) {
		t.Errorf("table:\n%s\nwant it to end with:\n%s", out, table)
	}
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), "1 of 3 hosts not done (1 rolled back)") {
		t.Errorf("exit: %v", err)
	}
}

// --json: one object per line, each with its type, operation and time,
// snake_case keys; the last one the summary.
func TestPrintCanaryRolloutJSON(t *testing.T) {
	out, _ := printAll(canaryDeploy(), true)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(canaryDeploy())+1 {
		t.Fatalf("%d lines for %d events and the summary", len(lines), len(canaryDeploy()))
	}
	types := map[string]int{}
	for i, l := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		typ, _ := obj["type"].(string)
		types[typ]++
		for k := range obj {
			if strings.ToLower(k) != k || strings.Contains(k, "-") {
				t.Errorf("line %d: key %q is not snake_case", i+1, k)
			}
		}
		if typ != "summary" && (obj["op"] == "" || obj["time"] == nil) {
			t.Errorf("line %d: no op or time: %s", i+1, l)
		}
	}
	for _, typ := range []string{"op_started", "rollout_started", "wave_started", "wave_healthy", "phase", "log", "copy",
		"copy_source", "activation", "outcome", "done", "built", "diff", "op_finished"} {
		if types[typ] == 0 {
			t.Errorf("no %q object", typ)
		}
	}
	var sum struct {
		Type     string `json:"type"`
		ExitCode int    `json:"exit_code"`
		Hosts    []struct {
			Host, Outcome, Cause string
			FromGen              int `json:"from_gen"`
			ToGen                int `json:"to_gen"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Type != "summary" || sum.ExitCode != 1 || len(sum.Hosts) != 3 || sum.Hosts[2].Outcome != "rolled back" || sum.Hosts[0].ToGen != 42 {
		t.Errorf("summary %+v", sum)
	}
}

// A host's text is made visible on the way to the terminal, in log lines,
// causes and the table; JSON keeps it exact.
func TestPrintHostileText(t *testing.T) {
	l := &eventLog{at: time.Now(), op: "deploy-1"}
	l.add(fleet.OpStarted{EventBase: l.base(""), Kind: "deploy", Hosts: []string{"web01"}})
	l.log("web01", "activate", "evil \x1b]52;c;cm0gLXJmIC8=\x07 line\rover\u202e")
	l.add(fleet.HostOutcome{EventBase: l.base("web01"), Outcome: fleet.OutcomeFailed, Cause: "activate: \x1b[2Jgone"},
		fleet.DoneEvent{EventBase: l.base("web01"), Err: errors.New("x")},
		fleet.OpFinished{EventBase: l.base("")})
	out, _ := printAll(l.events, false)
	assertInert(t, "rollout output", out)
	if !strings.Contains(out, `evil \x1b]52;c;cm0gLXJmIC8=\x07 line\x0dover\u202e`) {
		t.Errorf("log line not shown escaped:\n%s", out)
	}
	js, _ := printAll(l.events, true)
	assertInert(t, "rollout JSON", js)
	var obj map[string]any
	if err := json.Unmarshal([]byte(strings.Split(js, "\n")[1]), &obj); err != nil || obj["line"] != "evil \x1b]52;c;cm0gLXJmIC8=\x07 line\rover\u202e" {
		t.Errorf("JSON line %q, %v", obj["line"], err)
	}
}

// On a terminal each outcome has its colour (styles' policy decides when:
// TestProfile); without one the output is plain.
func TestPrintColours(t *testing.T) {
	var b bytes.Buffer
	p := newPrinter(&b, false)
	p.st = styles.New(colorprofile.ANSI)
	for _, e := range canaryDeploy() {
		p.event(e)
	}
	p.finish()
	out := b.String()
	for _, want := range []string{
		"\x1b[1mweb03\x1b[m | \x1b[93mrolled back after 47.3s: rolled back: no SSH after activation\x1b[m",
		"\x1b[1mweb02\x1b[m | \x1b[32mdone in 2.5s, generation 41 → 42\x1b[m",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if plain, _ := printAll(canaryDeploy(), false); strings.Contains(plain, "\x1b") {
		t.Error("colours on a buffer")
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{850 * time.Millisecond: "850ms", 12340 * time.Millisecond: "12.3s",
		123 * time.Second: "2m03s", time.Hour + 5*time.Second: "60m05s"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%s) = %s, want %s", d, got, want)
		}
	}
	for n, want := range map[int64]string{512: "512 B", 48<<20 + 100<<10: "48.1 MiB", 3 << 30: "3.0 GiB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %s, want %s", n, got, want)
		}
	}
}
