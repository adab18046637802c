package fleet

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"time"

	"nixdeck/fleet/remote"
)

// load loads a testdata fleet file with HOME pointing at a fixed place.
func load(t *testing.T, name string) *Fleet {
	t.Helper()
	t.Setenv("HOME", "/home/op")
	f, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return f
}

func TestLoadResolvesSettings(t *testing.T) {
	f := load(t, "resolve/fleet.yaml")
	dir, _ := filepath.Abs("testdata/resolve")
	if f.Path != filepath.Join(dir, "fleet.yaml") || f.Dir != dir || f.Flake != filepath.Join(dir, "flake") || f.File != "" {
		t.Errorf("Path, Dir, Flake, File = %q, %q, %q, %q", f.Path, f.Dir, f.Flake, f.File)
	}
	key := filepath.Join(dir, "keys/deploy_ed25519")
	known := "/home/op/fleet_known_hosts"
	want := map[string]Node{
		"web01": {Name: "web01", Host: "10.0.0.11", Attr: DefaultAttr("web01"), Tags: []string{"web"},
			Settings: Settings{Port: 2222, Identity: key, KnownHosts: known, Sudo: SudoAlways, BuildOn: BuildTarget}},
		"web02": {Name: "web02", Host: "10.0.0.12", Attr: DefaultAttr("web02"), Tags: []string{"web", "canary"},
			Settings: Settings{Port: 22, Identity: key, KnownHosts: known, Sudo: SudoAlways, BuildOn: BuildTarget}},
		"db01": {Name: "db01", Host: "db01.internal", Attr: "nixosConfigurations.db.config.system.build.toplevel",
			Settings: Settings{User: "postgres", Identity: "/etc/nixdeck/db_key", KnownHosts: known,
				Jump: "admin@bastion.internal:2200", Sudo: SudoNever, BuildOn: BuildLocal, SubstituteOnDestination: true}},
		"edge-1": {Name: "edge-1", Host: "edge1", Attr: DefaultAttr("edge-1"),
			Settings: Settings{Identity: key, KnownHosts: filepath.Join(filepath.Dir(dir), "known_hosts"), Sudo: SudoAlways, BuildOn: BuildTarget}},
	}
	var order []string
	for _, n := range f.Nodes {
		order = append(order, n.Name)
		if !reflect.DeepEqual(*n, want[n.Name]) {
			t.Errorf("node %s:\n got %+v\nwant %+v", n.Name, *n, want[n.Name])
		}
	}
	if !reflect.DeepEqual(order, []string{"web01", "web02", "db01", "edge-1"}) {
		t.Errorf("node order = %v, want file order", order)
	}
	wantDefaults := Settings{Identity: key, KnownHosts: known, Sudo: SudoAlways, BuildOn: BuildTarget}
	if f.Defaults != wantDefaults {
		t.Errorf("Defaults = %+v, want %+v", f.Defaults, wantDefaults)
	}
	if !reflect.DeepEqual(f.Deploy, DefaultDeploy()) {
		t.Errorf("Deploy = %+v, want the defaults", f.Deploy)
	}
	// Neither node nor defaults set user and port for edge-1: the Target
	// leaves them to ~/.ssh/config.
	got := f.Node("edge-1").Target()
	wantT := remote.Target{Name: "edge-1", Host: "edge1", Identity: key, KnownHosts: want["edge-1"].KnownHosts, Sudo: SudoAlways}
	if got != wantT {
		t.Errorf("Target() = %+v, want %+v", got, wantT)
	}
	if got := f.Node("db01").Target(); got.User != "postgres" || got.Jump != "admin@bastion.internal:2200" || got.Port != 0 || got.Sudo != SudoNever {
		t.Errorf("db01 Target() = %+v", got)
	}
}

// TestJumpNone: `jump: ""` says there is no bastion, which must reach the
// transport as "none" so that ~/.ssh/config's ProxyJump does not apply;
// a node that says nothing inherits the default.
func TestJumpNone(t *testing.T) {
	const text = "flake: ./\ndefaults: {jump: 'ops@bastion:2201'}\nnodes:\n  direct: {host: a, jump: ''}\n  spelled: {host: b, jump: none}\n  behind: {host: c}\n"
	f, err := Parse("fleet.yaml", "/srv/fleet.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"direct": "none", "spelled": "none", "behind": "ops@bastion:2201"} {
		if got := f.Node(name).Target().Jump; got != want {
			t.Errorf("%s: Target().Jump = %q, want %q", name, got, want)
		}
	}
	f, err = Parse("fleet.yaml", "/srv/fleet.yaml", []byte("flake: ./\nnodes:\n  a: {host: a}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Node("a").Target().Jump; got != "" {
		t.Errorf("jump left out: Target().Jump = %q, want \"\" (ProxyJump decides)", got)
	}
}

func TestLoadSourcesAndPolicy(t *testing.T) {
	classic := load(t, "classic.yaml")
	abs, _ := filepath.Abs("testdata/default.nix")
	if classic.File != abs || classic.Flake != "" {
		t.Errorf("classic: File, Flake = %q, %q; want %q, \"\"", classic.File, classic.Flake, abs)
	}
	f := load(t, "flakeref.yaml")
	if f.Flake != "github:example/fleet" {
		t.Errorf("Flake = %q, want the reference as written", f.Flake)
	}
	want := Deploy{
		Action: ActionBoot, Parallel: 2, Canary: []string{"@canary,!b"}, Batch: Batch{Count: 3},
		MaxFailures: 1, OnFailure: OnFailureRollbackFailed, Soak: 0, MagicRollback: false,
		ConfirmTimeout: 90 * time.Second, ActivationTimeout: time.Hour,
		Health: []HealthCheck{{Name: "http", HTTP: "https://{name}.example.com/health", Expect: 200, Timeout: DefaultHealthTimeout}},
	}
	if !reflect.DeepEqual(f.Deploy, want) {
		t.Errorf("Deploy:\n got %+v\nwant %+v", f.Deploy, want)
	}
	if got := f.Deploy.Health[0].URL(f.Node("a")); got != "https://a.example.com/health" {
		t.Errorf("URL = %q", got)
	}
	if ns := f.CanaryNodes(); len(ns) != 1 || ns[0].Name != "a" {
		t.Errorf("CanaryNodes = %v, want [a]", ns)
	}
	if f.Defaults.Sudo != SudoAuto || f.Defaults.BuildOn != BuildLocal {
		t.Errorf("built-in defaults = %+v", f.Defaults)
	}
}

// TestHealthURLVars checks that {vars.NAME} takes the node's own value
// over the defaults', name by name.
func TestHealthURLVars(t *testing.T) {
	f, err := Parse("fleet.yaml", "/x/fleet.yaml", []byte(`flake: ./
defaults: {vars: {port: 80, path: healthz}}
nodes:
  a: {host: h1, vars: {port: 8081}}
  b: {host: h2}
deploy:
  health:
    - {name: web, http: "http://{host}:{vars.port}/{vars.path}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	for node, want := range map[string]string{"a": "http://h1:8081/healthz", "b": "http://h2:80/healthz"} {
		if got := f.Deploy.Health[0].URL(f.Node(node)); got != want {
			t.Errorf("%s: URL = %q, want %q", node, got, want)
		}
	}
}

func TestLoadExample(t *testing.T) {
	f := load(t, "../../fleet.example.yaml")
	if len(f.Nodes) != 2 || f.Nodes[1].User != "deploy" || f.Nodes[1].Port != 2222 || f.Nodes[0].User != "root" {
		t.Errorf("nodes = %+v, %+v", *f.Nodes[0], *f.Nodes[1])
	}
	if f.Nodes[0].Identity != "/home/op/.ssh/id_ed25519" || len(f.Deploy.Health) != 2 || f.Deploy.Health[0].Timeout != time.Minute {
		t.Errorf("identity %q, health %+v", f.Nodes[0].Identity, f.Deploy.Health)
	}
	if b := f.Builder("big"); b == nil || b.MaxJobs != 8 || b.User != "nix" || b.Port != 22 || f.Cache != nil || f.Nodes[0].BuildOn != BuildLocal {
		t.Errorf("builder %+v, cache %+v, web01 build_on %q", b, f.Cache, f.Nodes[0].BuildOn)
	}
}

// TestLoadExampleCommented: the example's commented-out cache and
// build_on lines load once uncommented (with a key file at the sign_key
// path that matches the public_key).
func TestLoadExampleCommented(t *testing.T) {
	t.Setenv("HOME", "/home/op")
	b, err := os.ReadFile("../fleet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	commented := regexp.MustCompile(`(?m)^(\s*)# ((cache|  push|  sign_key|  substituter|  public_key|build_on): .*)$`)
	if n := len(commented.FindAllString(string(b), -1)); n != 6 {
		t.Fatalf("the example has %d commented cache and build_on lines, want 6", n)
	}
	text := commented.ReplaceAllString(string(b), "$1$2")
	dir := t.TempDir()
	key, err := os.ReadFile("testdata/check/cache-key.sec")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "secrets/cache-key.sec", string(key))
	f, err := Parse("fleet.example.yaml", filepath.Join(dir, "fleet.example.yaml"), []byte(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	want := Cache{Push: "s3://my-cache?region=eu-west-1", SignKey: filepath.Join(dir, "secrets/cache-key.sec"),
		Substituter: "https://cache.example.com", PublicKey: "cache.example.com-1:8lLyZBNEgkOd4a/obPiQGyNEqbphA96OiFdMiu4lqVI="}
	if f.Cache == nil || *f.Cache != want {
		t.Errorf("Cache = %+v, want %+v", f.Cache, want)
	}
	if got := f.Node("web01").BuilderName(); got != "big" {
		t.Errorf("web01 builds on %q, want big", got)
	}
}

func TestLoadUnreadable(t *testing.T) {
	_, err := Load("testdata/no-such-fleet.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want a wrapped ErrNotExist", err)
	}
}

func TestFileErrorsUnwrap(t *testing.T) {
	_, err := Parse("f.yaml", "/f.yaml", []byte("flake: ./\nnodes:\n  a: {host: h, port: 0}\n  b: {}\n"))
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As(%v, *FileError) = false", err)
	}
	want := FileError{File: "f.yaml", Line: 3, Col: 16, Key: "nodes.a.port", Msg: "0 is not a port (1-65535)"}
	if *fe != want {
		t.Errorf("first error = %+v, want %+v", *fe, want)
	}
	if s := (&FileError{File: "f.yaml", Msg: "broken"}).Error(); s != "f.yaml: broken" {
		t.Errorf("FileError without position = %q", s)
	}
}

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv(EnvFleet, "")
	if _, err := Locate(""); !errors.Is(err, ErrNoFleetFile) {
		t.Errorf("nothing anywhere: err = %v", err)
	}
	t.Setenv(EnvFleet, "/etc/fleet.yaml")
	for _, c := range []struct{ flag, want string }{{"", "/etc/fleet.yaml"}, {"x.yaml", "x.yaml"}} {
		if got, err := Locate(c.flag); got != c.want || err != nil {
			t.Errorf("Locate(%q) with $%s = %q, %v; want %q", c.flag, EnvFleet, got, err, c.want)
		}
	}
	if err := os.WriteFile(DefaultFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := Locate(""); got != DefaultFile {
		t.Errorf("with ./fleet.yaml: Locate = %q", got)
	}
	if got, _ := Locate("other.yaml"); got != "other.yaml" {
		t.Errorf("-f wins over ./fleet.yaml: Locate = %q", got)
	}
}

func TestBatchSize(t *testing.T) {
	for _, c := range []struct {
		b       Batch
		n, want int
	}{
		{Batch{Percent: 25}, 10, 3}, {Batch{Percent: 25}, 4, 1}, {Batch{Percent: 25}, 1, 1},
		{Batch{Percent: 100}, 7, 7}, {Batch{Percent: 1}, 250, 3}, {Batch{Count: 3}, 10, 3},
		{Batch{Count: 30}, 10, 10}, {Batch{Count: 3}, 0, 0},
	} {
		if got := c.b.Size(c.n); got != c.want {
			t.Errorf("%s of %d = %d, want %d", c.b, c.n, got, c.want)
		}
	}
}

// TestTildeWithoutHome: ~ in a path needs a usable $HOME; without one the
// error says what is missing instead of resolving against the working
// directory.
func TestTildeWithoutHome(t *testing.T) {
	const text = "flake: ./\nnodes:\n  a: {host: h, identity: ~/.ssh/k, known_hosts: ./kh}\n"
	for home, why := range map[string]string{"": "$HOME is not set", "op": `$HOME ("op") is not an absolute path`} {
		t.Setenv("HOME", home)
		_, err := Parse("fleet.yaml", "/srv/fleet.yaml", []byte(text))
		want := "fleet.yaml:3:16: nodes.a.identity: cannot expand ~: " + why
		if err == nil || err.Error() != want {
			t.Errorf("HOME=%q: err = %v, want %s", home, err, want)
		}
	}
}
