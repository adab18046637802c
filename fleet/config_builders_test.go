package fleet

import (
	"reflect"
	"strings"
	"testing"

	"nixdeck/fleet/remote"
)

// TestLoadBuilders: builders take the connection keys over defaults like
// nodes, systems and max_jobs have their defaults, and build_on names
// them.
func TestLoadBuilders(t *testing.T) {
	t.Setenv("HOME", "/home/op")
	const text = `flake: ./
x-arm: &arm {systems: [aarch64-linux, armv7l-linux]}
defaults:
  user: deploy
  identity: ./keys/deploy
  sudo: always
  jump: ops@bastion
  build_on: builder:big
  substitute_on_destination: true
builders:
  big:
    host: build01.example.com
    port: 2222
    systems: [x86_64-linux, i686-linux]
    max_jobs: 8
  small: {host: 10.0.0.9, user: nix, jump: "", known_hosts: ~/kh}
  arm: {host: arm1, <<: *arm, sudo: never}
  one: {host: one, systems: aarch64-darwin}
nodes:
  a: {host: a}
  b: {host: b, build_on: local}
  c: {host: c, build_on: builder:small}
  d: {host: d, build_on: target}
`
	f, err := Parse("fleet.yaml", "/srv/fleet/fleet.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	key := "/srv/fleet/keys/deploy"
	want := []Builder{
		{Name: "big", Host: "build01.example.com", Systems: []string{"x86_64-linux", "i686-linux"}, MaxJobs: 8,
			Settings: Settings{User: "deploy", Port: 2222, Identity: key, Jump: "ops@bastion", Sudo: SudoAlways}},
		{Name: "small", Host: "10.0.0.9", Systems: []string{"x86_64-linux"}, MaxJobs: 1,
			Settings: Settings{User: "nix", Identity: key, Jump: JumpNone, KnownHosts: "/home/op/kh", Sudo: SudoAlways}},
		{Name: "arm", Host: "arm1", Systems: []string{"aarch64-linux", "armv7l-linux"}, MaxJobs: 1,
			Settings: Settings{User: "deploy", Identity: key, Jump: "ops@bastion", Sudo: SudoNever}},
		{Name: "one", Host: "one", Systems: []string{"aarch64-darwin"}, MaxJobs: 1,
			Settings: Settings{User: "deploy", Identity: key, Jump: "ops@bastion", Sudo: SudoAlways}},
	}
	if len(f.Builders) != len(want) {
		t.Fatalf("Builders = %d, want %d", len(f.Builders), len(want))
	}
	for i, b := range f.Builders {
		got := *b
		got.node = nil
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("builder %d:\n got %+v\nwant %+v", i, got, want[i])
		}
		if f.Builder(want[i].Name) != b {
			t.Errorf("Builder(%q) is not the %d. builder", want[i].Name, i)
		}
	}
	if f.Builder("nope") != nil || f.Builder("a") != nil {
		t.Error("Builder finds names that are no builder")
	}
	for node, want := range map[string]string{"a": "big", "b": "", "c": "small", "d": ""} {
		if got := f.Node(node).BuilderName(); got != want {
			t.Errorf("node %s: BuilderName() = %q, want %q (build_on %q)", node, got, want, f.Node(node).BuildOn)
		}
	}
	if f.Defaults.BuildOn != "builder:big" || f.Defaults.BuilderName() != "big" {
		t.Errorf("Defaults.BuildOn = %q", f.Defaults.BuildOn)
	}
	n := f.Builder("big").Node()
	if n != f.Builder("big").Node() {
		t.Error("Node() returns a new node each call; the SSH pool may key on it")
	}
	wantT := remote.Target{Name: "builder:big", Host: "build01.example.com", Port: 2222, User: "deploy",
		Identity: key, Jump: "ops@bastion", Sudo: SudoAlways}
	if got := n.Target(); got != wantT {
		t.Errorf("Node().Target() = %+v, want %+v", got, wantT)
	}
	if f.Node("builder:big") != nil || f.Cache != nil {
		t.Errorf("a builder became a node, or a cache appeared: %v, %+v", f.Node("builder:big"), f.Cache)
	}
	// A Builder made outside Load (by tests of other packages) still has a node.
	if got := (&Builder{Name: "x", Host: "h"}).Node(); got.Name != "builder:x" || got.Host != "h" {
		t.Errorf("Node() of a literal Builder = %+v", got)
	}
}

func TestBuilderErrors(t *testing.T) {
	const b = "flake: ./\nnodes:\n  a: {host: h}\nbuilders:\n"
	wantParseErrors(t, []parseErrorCase{
		{"builders a list", "flake: ./\nnodes:\n  a: {host: h}\nbuilders: [big]\n", []string{"fleet.yaml:4:1: builders: expected a mapping of builder names to builders, got a list"}},
		{"bad builder name", b + "  'a:b': {host: h}\n  '@x': {host: h}\n  \"\\e\": {host: h}\n", []string{
			"fleet.yaml:5:3: builders.a:b: \"a:b\" is not a valid builder name (letters, digits, '.', '_', '-')",
			"fleet.yaml:6:3: builders.@x: \"@x\" is not a valid builder name (letters, digits, '.', '_', '-')",
			"fleet.yaml:7:3: builders.\\x1b: \"\\x1b\" is not a valid builder name (letters, digits, '.', '_', '-')"}},
		{"duplicate builder", b + "  big: {host: h}\n  big: {host: i}\n", []string{"fleet.yaml:6:3: builders.big: duplicate builder name (first at line 5)"}},
		{"builder without anything", b + "  big:\n", []string{"fleet.yaml:5:3: builders.big: missing host"}},
		{"builder without host", b + "  big:\n    user: nix\n", []string{"fleet.yaml:5:3: builders.big: missing host"}},
		{"builder not a mapping", b + "  big: build01\n", []string{"fleet.yaml:5:8: builders.big: expected a mapping, got \"build01\" (a string)"}},
		{"builder host with user", b + "  big: {host: nix@b}\n", []string{"fleet.yaml:5:9: builders.big.host: \"nix@b\" has a user in it; put the user in user:"}},
		{"builder host with an escape", b + "  big: {host: \"b\\e]0;x\\a\"}\n", []string{"fleet.yaml:5:9: builders.big.host: \"b\\x1b]0;x\\a\" contains a control character (U+001B)"}},
		{"builder port", b + "  big: {host: h, port: 0x10000}\n", []string{"fleet.yaml:5:18: builders.big.port: 0x10000 is not a port (1-65535)"}},
		{"builder with node keys", b + "  big: {host: h, build_on: local, tags: [x], vars: {a: 1}, attr: x, substitute_on_destination: true}\n", []string{
			"fleet.yaml:5:18: builders.big.build_on: unknown key (known: host, identity, jump, known_hosts, max_jobs, port, sudo, systems or user)",
			"fleet.yaml:5:35: builders.big.tags: unknown key (known: host, identity, jump, known_hosts, max_jobs, port, sudo, systems or user)",
			"fleet.yaml:5:46: builders.big.vars: unknown key (known: host, identity, jump, known_hosts, max_jobs, port, sudo, systems or user)",
			"fleet.yaml:5:60: builders.big.attr: unknown key (known: host, identity, jump, known_hosts, max_jobs, port, sudo, systems or user)",
			"fleet.yaml:5:69: builders.big.substitute_on_destination: unknown key (known: host, identity, jump, known_hosts, max_jobs, port, sudo, systems or user)"}},
		{"typo", b + "  big: {host: h, max_job: 2}\n", []string{"fleet.yaml:5:18: builders.big.max_job: unknown key (did you mean max_jobs?)"}},
		{"max_jobs zero", b + "  big: {host: h, max_jobs: 0}\n", []string{"fleet.yaml:5:18: builders.big.max_jobs: 0 is not a job count (1-1048576)"}},
		{"max_jobs huge", b + "  big: {host: h, max_jobs: 2000000}\n", []string{"fleet.yaml:5:18: builders.big.max_jobs: 2000000 is not a job count (1-1048576)"}},
		{"max_jobs overflows", b + "  big: {host: h, max_jobs: 99999999999999999999}\n", []string{"fleet.yaml:5:18: builders.big.max_jobs: 99999999999999999999 overflows: it is not a job count (1-1048576)"}},
		{"max_jobs a string", b + "  big: {host: h, max_jobs: '8'}\n", []string{"fleet.yaml:5:18: builders.big.max_jobs: expected an integer, got \"8\" (a string)"}},
		{"systems empty", b + "  big: {host: h, systems: []}\n", []string{"fleet.yaml:5:18: builders.big.systems: empty: list the systems the builder builds (e.g. [x86_64-linux])"}},
		{"systems bad", b + "  big:\n    host: h\n    systems: [x86_64-linux, 'x86 64', 'a,b-c', '', x86_64-linux, {a: 1}]\n", []string{
			"fleet.yaml:7:29: builders.big.systems[1]: \"x86 64\" is not a Nix system type (e.g. x86_64-linux, aarch64-linux)",
			"fleet.yaml:7:39: builders.big.systems[2]: \"a,b-c\" is not a Nix system type (e.g. x86_64-linux, aarch64-linux)",
			"fleet.yaml:7:48: builders.big.systems[3]: \"\" is not a Nix system type (e.g. x86_64-linux, aarch64-linux)",
			"fleet.yaml:7:52: builders.big.systems[4]: \"x86_64-linux\" is listed twice",
			"fleet.yaml:7:66: builders.big.systems[5]: expected a string, got a mapping"}},
		{"systems one bad string", b + "  big: {host: h, systems: linux}\n", []string{"fleet.yaml:5:18: builders.big.systems: \"linux\" is not a Nix system type (e.g. x86_64-linux, aarch64-linux)"}},
		{"systems a mapping", b + "  big: {host: h, systems: {x: 1}}\n", []string{"fleet.yaml:5:18: builders.big.systems: expected a list, got a mapping"}},
		{"build_on unknown builder, none defined", "flake: ./\nnodes:\n  a: {host: h, build_on: 'builder:big'}\n", []string{"fleet.yaml:3:16: nodes.a.build_on: no builder \"big\": the file has no builders section"}},
		{"build_on typo", "flake: ./\nbuilders:\n  big: {host: h}\n  small: {host: i}\nnodes:\n  a: {host: h, build_on: 'builder:bgi'}\n", []string{"fleet.yaml:6:16: nodes.a.build_on: no builder \"bgi\" (did you mean builder:big?)"}},
		{"build_on in defaults, once", "flake: ./\ndefaults:\n  build_on: builder:bgi\nbuilders:\n  big: {host: b}\n  small: {host: s}\nnodes:\n  a: {host: h}\n  b: {host: h}\n  c: {host: h, build_on: builder:nope}\n", []string{
			"fleet.yaml:3:3: defaults.build_on: no builder \"bgi\" (did you mean builder:big?)",
			"fleet.yaml:10:16: nodes.c.build_on: no builder \"nope\" (builders: big or small)"}},
		{"build_on many builders", "flake: ./\nbuilders: {b1: {host: h}, b2: {host: h}, b3: {host: h}, b4: {host: h}, b5: {host: h}, b6: {host: h}, b7: {host: h}}\nnodes:\n  a: {host: h, build_on: builder:other}\n", []string{"fleet.yaml:4:16: nodes.a.build_on: no builder \"other\" (builders: b1, b2, b3, b4, b5 and 2 more)"}},
		{"build_on bad builder names", "flake: ./\nnodes:\n  a: {host: h, build_on: 'builder:'}\n  b: {host: h, build_on: 'builder:a b'}\n  c: {host: h, build_on: 'builder:builder:x'}\n", []string{
			"fleet.yaml:3:16: nodes.a.build_on: \"builder:\": \"\" is not a valid builder name (letters, digits, '.', '_', '-')",
			"fleet.yaml:4:16: nodes.b.build_on: \"builder:a b\": \"a b\" is not a valid builder name (letters, digits, '.', '_', '-')",
			"fleet.yaml:5:16: nodes.c.build_on: \"builder:builder:x\": \"builder:x\" is not a valid builder name (letters, digits, '.', '_', '-')"}},
		{"build_on builder prefix case", ok + "defaults: {build_on: 'Builder:big'}\n", []string{"fleet.yaml:4:12: defaults.build_on: \"Builder:big\" is not one of local, target or builder:NAME"}},
		{"build_on with an escape", ok + "defaults: {build_on: \"builder:\\e[2J\"}\n", []string{"fleet.yaml:4:12: defaults.build_on: \"builder:\\x1b[2J\" contains a control character (U+001B)"}},
		{"build_on a list", ok + "defaults: {build_on: [local]}\n", []string{"fleet.yaml:4:12: defaults.build_on: expected a string, got a list"}},
	})
}

// TestBuilderNameOfSettings: only "builder:NAME" names a builder.
func TestBuilderNameOfSettings(t *testing.T) {
	for in, want := range map[string]string{"local": "", "target": "", "": "", "builder:big": "big", "builderbig": ""} {
		if got := (Settings{BuildOn: in}).BuilderName(); got != want {
			t.Errorf("BuilderName of %q = %q, want %q", in, got, want)
		}
	}
	if !strings.HasPrefix("builder:x", BuildBuilderPrefix) {
		t.Error("BuildBuilderPrefix changed")
	}
}
