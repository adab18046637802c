package fleet

import (
	"errors"
	"strings"
	"testing"
)

// ok is the smallest valid fleet file; cases append to or replace it.
const ok = "flake: ./\nnodes:\n  a: {host: h}\n"

// TestParseErrors checks every kind of fleet file error with its exact
// position and key; all errors of a file are reported, sorted.
func TestParseErrors(t *testing.T) {
	wantParseErrors(t, []parseErrorCase{
		{"syntax", "flake: ./\nnodes: [\n", []string{"fleet.yaml:2: YAML syntax: did not find expected node content"}},
		{"empty file", "", []string{"fleet.yaml:1:1: the file is empty; it needs flake (or file) and nodes"}},
		{"comments only", "# nothing\n", []string{"fleet.yaml:1:1: the file is empty; it needs flake (or file) and nodes"}},
		{"top level is a list", "- a\n", []string{"fleet.yaml:1:1: expected a mapping, got a list"}},
		{"second document", ok + "---\nflake: ./\n", []string{"fleet.yaml:4: YAML syntax: a fleet file holds one YAML document; found another"}},
		{"unknown top-level key", "flake: ./\nnode:\n  a: {host: h}\n", []string{"fleet.yaml:1:1: nodes: missing: the fleet needs at least one node", "fleet.yaml:2:1: node: unknown key (did you mean nodes?)"}},
		{"unknown key far from any", ok + "colour: blue\n", []string{"fleet.yaml:4:1: colour: unknown key (known: builders, cache, defaults, deploy, file, flake or nodes)"}},
		{"neither flake nor file", "nodes:\n  a: {host: h}\n", []string{"fleet.yaml:1:1: flake: missing: set flake (a directory with flake.nix) or file (a Nix file)"}},
		{"both flake and file", ok + "file: ./default.nix\n", []string{"fleet.yaml:4:1: file: flake and file exclude each other; set only one"}},
		{"empty flake", "flake: ''\nnodes:\n  a: {host: h}\n", []string{"fleet.yaml:1:1: flake: must not be empty"}},
		{"no nodes key", "flake: ./\n", []string{"fleet.yaml:1:1: nodes: missing: the fleet needs at least one node"}},
		{"nodes null", "flake: ./\nnodes:\n", []string{"fleet.yaml:2:1: nodes: missing: the fleet needs at least one node"}},
		{"nodes empty", "flake: ./\nnodes: {}\n", []string{"fleet.yaml:2:1: nodes: the fleet needs at least one node"}},
		{"nodes a list", "flake: ./\nnodes: [a, b]\n", []string{"fleet.yaml:2:1: nodes: expected a mapping of node names to nodes, got a list"}},
		{"missing host", "flake: ./\nnodes:\n  a:\n    user: deploy\n", []string{"fleet.yaml:3:3: nodes.a: missing host"}},
		{"node with nothing", "flake: ./\nnodes:\n  a:\n  b: {host: h}\n", []string{"fleet.yaml:3:3: nodes.a: missing host"}},
		{"node not a mapping", "flake: ./\nnodes:\n  a: 10.0.0.1\n", []string{"fleet.yaml:3:6: nodes.a: expected a mapping, got \"10.0.0.1\" (a string)"}},
		{"empty host", "flake: ./\nnodes:\n  a: {host: ''}\n", []string{"fleet.yaml:3:7: nodes.a.host: must not be empty"}},
		{"host with user", "flake: ./\nnodes:\n  a: {host: root@h}\n", []string{"fleet.yaml:3:7: nodes.a.host: \"root@h\" has a user in it; put the user in user:"}},
		{"host with port", "flake: ./\nnodes:\n  a: {host: '10.0.0.1:2222'}\n  b: {host: '[::1]'}\n  c: {host: 'fe80::1%eth0'}\n  d: {host: '::1'}\n", []string{"fleet.yaml:3:7: nodes.a.host: \"10.0.0.1:2222\" is not a host name or address; put a port in port:, and write IPv6 addresses without brackets", "fleet.yaml:4:7: nodes.b.host: \"[::1]\" is not a host name or address; put a port in port:, and write IPv6 addresses without brackets"}},
		{"host with an escape", "flake: ./\nnodes:\n  a: {host: \"h\\e[31m\"}\n", []string{"fleet.yaml:3:7: nodes.a.host: \"h\\x1b[31m\" contains a control character (U+001B)"}},
		{"user with a bidi override", ok + "defaults: {user: \"\\u202Eroot\"}\n", []string{"fleet.yaml:4:12: defaults.user: \"\\u202eroot\" has an invisible character (U+202E)"}},
		{"jump with a newline", ok + "defaults: {jump: \"b\\nastion\"}\n", []string{"fleet.yaml:4:12: defaults.jump: \"b\\nastion\" contains a control character (U+000A)"}},
		{"check name with a NUL", ok + "deploy:\n  health:\n    - {name: \"x\\0\", run: \"a\\tb\\nc\\e\"}\n", []string{"fleet.yaml:6:8: deploy.health[0].name: \"x\\x00\" contains a control character (U+0000)", "fleet.yaml:6:21: deploy.health[0].run: \"a\\tb\\nc\\x1b\" contains a control character (U+001B)"}},
		{"node name with a bell", "flake: ./\nnodes:\n  \"a\\a\": {host: h}\n", []string{"fleet.yaml:3:3: nodes.a\\a: \"a\\a\" is not a valid node name (letters, digits, '.', '_', '-')"}},
		{"unknown key with an escape", ok + "\"\\e[2J\": 1\n", []string{"fleet.yaml:4:1: \\x1b[2J: unknown key (known: builders, cache, defaults, deploy, file, flake or nodes)"}},
		{"explicitly tagged port", ok + "defaults: {port: !!int \"\\e\"}\n", []string{"fleet.yaml:4:12: defaults.port: \\x1b is not a port (1-65535)"}},
		{"duplicate node", "flake: ./\nnodes:\n  web01: {host: a}\n  db01: {host: b}\n  web01: {host: c}\n", []string{"fleet.yaml:5:3: nodes.web01: duplicate node name (first at line 3)"}},
		{"duplicate key in node", "flake: ./\nnodes:\n  a:\n    host: h\n    host: i\n", []string{"fleet.yaml:5:5: nodes.a.host: duplicate key (first at line 4)"}},
		{"duplicate key in defaults", ok + "defaults:\n  port: 22\n  port: 23\n", []string{"fleet.yaml:6:3: defaults.port: duplicate key (first at line 5)"}},
		{"bad node name", "flake: ./\nnodes:\n  'web 01': {host: h}\n  '@x': {host: h}\n", []string{"fleet.yaml:3:3: nodes.web 01: \"web 01\" is not a valid node name (letters, digits, '.', '_', '-')", "fleet.yaml:4:3: nodes.@x: \"@x\" is not a valid node name (letters, digits, '.', '_', '-')"}},
		{"unknown node key", "flake: ./\nnodes:\n  a: {host: h, hots: i}\n", []string{"fleet.yaml:3:16: nodes.a.hots: unknown key (did you mean host?)"}},
		{"unknown defaults key", ok + "defaults:\n  identity_file: ~/.ssh/k\n", []string{"fleet.yaml:5:3: defaults.identity_file: unknown key (known: build_on, identity, jump, known_hosts, port, substitute_on_destination, sudo, user or vars)"}},
		{"unknown deploy key", ok + "deploy:\n  paralel: 3\n", []string{"fleet.yaml:5:3: deploy.paralel: unknown key (did you mean parallel?)"}},
		{"unknown health key", ok + "deploy:\n  health:\n    - {name: x, run: 'true', retries: 3}\n", []string{"fleet.yaml:6:30: deploy.health[0].retries: unknown key (known: expect, http, name, run or timeout)"}},
		{"port too big", "flake: ./\nnodes:\n  web01:\n    host: h\n    port: 70000\n", []string{"fleet.yaml:5:5: nodes.web01.port: 70000 is not a port (1-65535)"}},
		{"port overflows", ok + "defaults: {port: 99999999999999999999}\n", []string{"fleet.yaml:4:12: defaults.port: 99999999999999999999 overflows: it is not a port (1-65535)"}},
		{"port overflows int64", ok + "defaults: {port: 9223372036854775808}\n", []string{"fleet.yaml:4:12: defaults.port: 9223372036854775808 overflows: it is not a port (1-65535)"}},
		{"port overflows in hex", ok + "defaults: {port: 0x1FFFFFFFFFFFFFFFF}\n", []string{"fleet.yaml:4:12: defaults.port: 0x1FFFFFFFFFFFFFFFF overflows: it is not a port (1-65535)"}},
		{"negative port overflows", ok + "defaults: {port: -99999999999999999999}\n", []string{"fleet.yaml:4:12: defaults.port: -99999999999999999999 overflows: it is not a port (1-65535)"}},
		{"parallel too large", ok + "deploy: {parallel: 5000000}\n", []string{"fleet.yaml:4:10: deploy.parallel: 5000000 is not a host count (1-1048576)"}},
		{"parallel overflows", ok + "deploy: {parallel: 99999999999999999999}\n", []string{"fleet.yaml:4:10: deploy.parallel: 99999999999999999999 overflows: it is not a host count (1-1048576)"}},
		{"expect overflows", ok + "deploy:\n  health:\n    - {name: x, http: 'http://{host}/', expect: 99999999999999999999}\n", []string{"fleet.yaml:6:41: deploy.health[0].expect: 99999999999999999999 overflows: it is not an HTTP status (100-599)"}},
		{"soak overflows", ok + "deploy: {soak: 9999999h}\n", []string{"fleet.yaml:4:10: deploy.soak: \"9999999h\" overflows: a duration is at most 2562047h (about 292 years)"}},
		{"timeout overflows", ok + "deploy:\n  health:\n    - {name: x, run: 'true', timeout: 99999999999999999999s}\n", []string{"fleet.yaml:6:30: deploy.health[0].timeout: \"99999999999999999999s\" overflows: a duration is at most 2562047h (about 292 years)"}},
		{"duration without unit overflows", ok + "deploy: {activation_timeout: 99999999999999999999}\n", []string{"fleet.yaml:4:10: deploy.activation_timeout: 99999999999999999999 has no unit (e.g. 99999999999999999999s, 99999999999999999999m)"}},
		{"batch overflows", ok + "deploy: {batch: 99999999999999999999}\n", []string{"fleet.yaml:4:10: deploy.batch: \"99999999999999999999\" overflows: it is not a host count (1 or more) or a percentage (25%)"}},
		{"batch percentage overflows", ok + "deploy: {batch: 99999999999999999999%}\n", []string{"fleet.yaml:4:10: deploy.batch: \"99999999999999999999%\" overflows: it is not a percentage (1%-100%)"}},
		{"jump port overflows", ok + "defaults: {jump: 'b:99999999999999999999'}\n", []string{"fleet.yaml:4:12: defaults.jump: \"b:99999999999999999999\": 99999999999999999999 overflows: it is not a port (1-65535)"}},
		{"port zero", ok + "defaults: {port: 0}\n", []string{"fleet.yaml:4:12: defaults.port: 0 is not a port (1-65535)"}},
		{"port a string", ok + "defaults: {port: '22'}\n", []string{"fleet.yaml:4:12: defaults.port: expected an integer, got \"22\" (a string)"}},
		{"port not a number", ok + "defaults: {port: ssh}\n", []string{"fleet.yaml:4:12: defaults.port: expected an integer, got \"ssh\" (a string)"}},
		{"user with space", ok + "defaults: {user: 'a b'}\n", []string{"fleet.yaml:4:12: defaults.user: \"a b\" is not a user name"}},
		{"sudo enum", ok + "defaults: {sudo: maybe}\n", []string{"fleet.yaml:4:12: defaults.sudo: \"maybe\" is not one of auto, always or never"}},
		{"build_on enum", ok + "defaults: {build_on: remote}\n", []string{"fleet.yaml:4:12: defaults.build_on: \"remote\" is not one of local, target or builder:NAME"}},
		{"substitute not bool", ok + "defaults: {substitute_on_destination: 'yes'}\n", []string{"fleet.yaml:4:12: defaults.substitute_on_destination: expected true or false, got \"yes\" (a string)"}},
		{"jump bad port", ok + "defaults: {jump: 'bastion:99999'}\n", []string{"fleet.yaml:4:12: defaults.jump: \"bastion:99999\": 99999 is not a port (1-65535)"}},
		{"jump two hops", ok + "defaults: {jump: 'a,b'}\n", []string{"fleet.yaml:4:12: defaults.jump: \"a,b\": not [user@]host[:port] (one bastion only)"}},
		{"identity ~user", ok + "defaults: {identity: '~bob/.ssh/id'}\n", []string{"fleet.yaml:4:12: defaults.identity: \"~bob/.ssh/id\": only ~/ is expanded, not ~user"}},
		{"defaults a list", ok + "defaults: [a]\n", []string{"fleet.yaml:4:1: defaults: expected a mapping, got a list"}},
		{"action enum", ok + "deploy: {action: swich}\n", []string{"fleet.yaml:4:10: deploy.action: \"swich\" is not one of switch, boot, test or dry-activate"}},
		{"on_failure enum", ok + "deploy: {on_failure: rollback}\n", []string{"fleet.yaml:4:10: deploy.on_failure: \"rollback\" is not one of halt, rollback-failed or rollback-all"}},
		{"parallel zero", ok + "deploy: {parallel: 0}\n", []string{"fleet.yaml:4:10: deploy.parallel: 0 is not a host count (1-1048576)"}},
		{"parallel float", ok + "deploy: {parallel: 1.5}\n", []string{"fleet.yaml:4:10: deploy.parallel: expected an integer, got 1.5 (a number)"}},
		{"max_failures negative", ok + "deploy: {max_failures: -1}\n", []string{"fleet.yaml:4:10: deploy.max_failures: -1 is not a host count (0-1048576)"}},
		{"batch 0%", ok + "deploy: {batch: 0%}\n", []string{"fleet.yaml:4:10: deploy.batch: \"0%\" is not a percentage (1%-100%)"}},
		{"batch 101%", ok + "deploy: {batch: 101%}\n", []string{"fleet.yaml:4:10: deploy.batch: \"101%\" is not a percentage (1%-100%)"}},
		{"batch zero", ok + "deploy: {batch: 0}\n", []string{"fleet.yaml:4:10: deploy.batch: \"0\" is not a host count (1 or more) or a percentage (25%)"}},
		{"batch word", ok + "deploy: {batch: half}\n", []string{"fleet.yaml:4:10: deploy.batch: \"half\" is not a host count (1 or more) or a percentage (25%)"}},
		{"soak without unit", ok + "deploy: {soak: 30}\n", []string{"fleet.yaml:4:10: deploy.soak: 30 has no unit (e.g. 30s, 30m)"}},
		{"soak bad unit", ok + "deploy: {soak: 30sec}\n", []string{"fleet.yaml:4:10: deploy.soak: \"30sec\" is not a duration (e.g. 30s, 10m, 1h30m)"}},
		{"soak negative", ok + "deploy: {soak: -1s}\n", []string{"fleet.yaml:4:10: deploy.soak: -1s is too short (at least 0s)"}},
		{"confirm_timeout zero", ok + "deploy: {confirm_timeout: 0s}\n", []string{"fleet.yaml:4:10: deploy.confirm_timeout: 0s is too short (at least 1s)"}},
		{"magic_rollback yes", ok + "deploy: {magic_rollback: yes}\n", []string{"fleet.yaml:4:10: deploy.magic_rollback: expected true or false, got \"yes\" (a string)"}},
		{"tags not a list", "flake: ./\nnodes:\n  a: {host: h, tags: web}\n", []string{"fleet.yaml:3:16: nodes.a.tags: expected a list, got \"web\" (a string)"}},
		{"bad tag", "flake: ./\nnodes:\n  a: {host: h, tags: [web, 'a,b', {x: 1}]}\n", []string{"fleet.yaml:3:28: nodes.a.tags[1]: \"a,b\" is not a valid tag (letters, digits, '.', '_', '-')", "fleet.yaml:3:35: nodes.a.tags[2]: expected a string, got a mapping"}},
		{"empty attr", "flake: ./\nnodes:\n  a: {host: h, attr: ''}\n", []string{"fleet.yaml:3:16: nodes.a.attr: must not be empty (leave it out for nixosConfigurations.a.config.system.build.toplevel)"}},
		{"health not a list", ok + "deploy: {health: {name: x}}\n", []string{"fleet.yaml:4:10: deploy.health: expected a list of checks, got a mapping"}},
		{"health neither", ok + "deploy:\n  health:\n    - name: x\n", []string{"fleet.yaml:6:7: deploy.health[0]: set run (a command on the host) or http (a URL)"}},
		{"health both", ok + "deploy:\n  health:\n    - {name: x, run: 'true', http: 'http://h/'}\n", []string{"fleet.yaml:6:7: deploy.health[0]: run and http exclude each other; set only one"}},
		{"health no name", ok + "deploy:\n  health:\n    - run: 'true'\n", []string{"fleet.yaml:6:7: deploy.health[0].name: missing: every check needs a name"}},
		{"health duplicate name", ok + "deploy:\n  health:\n    - {name: x, run: 'true'}\n    - {name: x, run: 'false'}\n", []string{"fleet.yaml:7:7: deploy.health[1].name: duplicate check name \"x\" (first at line 6)"}},
		{"health expect with run", ok + "deploy:\n  health:\n    - {name: x, run: 'true', expect: 200}\n", []string{"fleet.yaml:6:30: deploy.health[0].expect: only http checks have an expected status"}},
		{"health bad url", ok + "deploy:\n  health:\n    - {name: x, http: 'ftp://h/'}\n", []string{"fleet.yaml:6:17: deploy.health[0].http: \"ftp://h/\" is not an http:// or https:// URL"}},
		{"health placeholder", ok + "deploy:\n  health:\n    - {name: x, http: 'http://{hostname}/'}\n", []string{"fleet.yaml:6:17: deploy.health[0].http: unknown placeholder {hostname} (use {host}, {name} or {vars.NAME})"}},
		{"health var name", ok + "deploy:\n  health:\n    - {name: x, http: 'http://h:{vars.a-b}/'}\n", []string{"fleet.yaml:6:17: deploy.health[0].http: {vars.a-b}: \"a-b\" is not a valid variable name"}},
		{"health var missing", "flake: ./\ndefaults: {vars: {other: 1}}\nnodes:\n  a: {host: h, vars: {port: 80}}\n  b: {host: h}\ndeploy:\n  health:\n    - {name: x, http: 'http://h:{vars.port}/'}\n", []string{"fleet.yaml:8:17: deploy.health[0].http: {vars.port}: no vars.port for node b (set it in the node or in defaults)"}},
		{"vars not a mapping", "flake: ./\nnodes:\n  a: {host: h, vars: [1]}\n", []string{"fleet.yaml:3:16: nodes.a.vars: expected a mapping of names to values, got a list"}},
		{"vars bad name and value", "flake: ./\nnodes:\n  a: {host: h, vars: {'x.y': 1, z: [1]}}\n", []string{"fleet.yaml:3:23: nodes.a.vars.x.y: \"x.y\" is not a valid variable name (letters, digits, '_')", "fleet.yaml:3:36: nodes.a.vars.z: expected a string or number, got a list"}},
		{"health expect range", ok + "deploy:\n  health:\n    - {name: x, http: 'http://{host}/', expect: 99}\n", []string{"fleet.yaml:6:41: deploy.health[0].expect: 99 is not an HTTP status (100-599)"}},
		{"canary tag matches nothing", ok + "deploy:\n  canary: ['@canary']\n", []string{"fleet.yaml:5:12: deploy.canary[0]: selector \"@canary\": no node has that tag"}},
		{"canary name matches nothing", ok + "deploy:\n  canary: [a, b]\n", []string{"fleet.yaml:5:15: deploy.canary[1]: selector \"b\": no node of that name"}},
		{"canary string", ok + "deploy: {canary: 'web*'}\n", []string{"fleet.yaml:4:10: deploy.canary: selector \"web*\": matches no node name"}},
		{"canary empty selection", ok + "deploy: {canary: ['a,!a']}\n", []string{"fleet.yaml:4:19: deploy.canary[0]: selector \"a,!a\": selects no node (everything included is excluded)"}},
		{"canary empty element", ok + "deploy: {canary: ['']}\n", []string{"fleet.yaml:4:19: deploy.canary[0]: empty selector"}},
		{"merge with unknown key", "flake: ./\nx-base: &b {host: h, prot: 2}\nnodes:\n  a: {<<: *b}\n", []string{"fleet.yaml:2:22: nodes.a.prot: unknown key (did you mean port?)"}},
		{"errors found late sort first", "deploy: {canary: [x]}\nflake: ./\nnodes:\n  a: {host: h, sudo: true}\n", []string{"fleet.yaml:1:19: deploy.canary[0]: selector \"x\": no node of that name", "fleet.yaml:4:16: nodes.a.sudo: expected a string, got true (a boolean)"}},
		{"merge of itself", "flake: ./\nnodes: &n\n  a: {host: h}\n  <<: *n\n", []string{"fleet.yaml:4:3: nodes.<<: a merge key brings in the mapping it is part of"}},
		{"merge cycle (forward anchor)", "flake: ./\nx-a: &a {<<: *b}\nx-b: &b {<<: *a}\nnodes:\n  a: {host: h, <<: *a}\n", []string{"fleet.yaml: YAML syntax: unknown anchor 'b' referenced"}},
		{"merge of a list", "flake: ./\nnodes:\n  a: {host: h, <<: [1]}\n", []string{"fleet.yaml:3:21: nodes.a.<<: a merge key needs a mapping, got 1 (an integer)"}},
		{"many errors sorted", "nodes:\n  b: {host: h, port: 0}\n  a: {user: x}\ndeploy: {soak: x}\nflake: ./\nfile: ./x.nix\n", []string{"fleet.yaml:2:16: nodes.b.port: 0 is not a port (1-65535)", "fleet.yaml:3:3: nodes.a: missing host", "fleet.yaml:4:10: deploy.soak: \"x\" is not a duration (e.g. 30s, 10m, 1h30m)", "fleet.yaml:6:1: file: flake and file exclude each other; set only one"}},
	})
}

// parseErrorCase is a fleet file and every error Parse must report for it,
// as printed.
type parseErrorCase struct {
	name string
	yaml string
	want []string
}

// wantParseErrors parses each case's file as /srv/fleet/fleet.yaml and
// compares the errors, positions and order included.
func wantParseErrors(t *testing.T, cases []parseErrorCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("fleet.yaml", "/srv/fleet/fleet.yaml", []byte(c.yaml))
			var fes FileErrors
			if !errors.As(err, &fes) {
				t.Fatalf("error = %v (%T), want FileErrors", err, err)
			}
			got := strings.Split(fes.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestVisible: error text from the file never carries what a terminal
// acts on: controls, invisible characters, stray bytes (0x9B is a CSI).
func TestVisible(t *testing.T) {
	for in, want := range map[string]string{
		"nodes.web01":      "nodes.web01",
		"caf\u00e9 ok":     "caf\u00e9 ok",
		"a\x1b[2Jb\tc":     `a\x1b[2Jb\tc`,
		"\u202eroot":       `\u202eroot`,
		"x\x9b31m\xff":     `x\x9b31m\xff`,
		"tab\there\r\nend": `tab\there\r\nend`,
	} {
		if got := visible(in); got != want {
			t.Errorf("visible(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMultilineRun(t *testing.T) {
	f, err := Parse("fleet.yaml", "/srv/fleet.yaml", []byte(ok+"deploy:\n  health:\n    - name: x\n      run: |\n        systemctl is-active nginx\n        \tcurl -fsS localhost\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Deploy.Health[0].Run; got != "systemctl is-active nginx\n\tcurl -fsS localhost\n" {
		t.Errorf("run = %q", got)
	}
}
