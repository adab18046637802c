package fleet

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// TestPushKeepsTheKeySecret pushes a built system to a signed file://
// cache through the engine with real Nix (the build alone is faked): the
// key file's path goes to Nix on the command line, and to no event, log
// line or error the operation reports: when the push works, when Nix
// fails without a word (its error is then the command's own), when Nix
// fails on the key (a key path that is a directory; proc.HideSecrets's
// own tests cover Nix quoting the path), and
// when the key is not on this machine at all: then Nix is not run.
func TestPushKeepsTheKeySecret(t *testing.T) {
	nixtest.NeedNix(t)
	sys := nixtest.LargeClosure(t, 3)
	dir := t.TempDir()
	key := filepath.Join(dir, "cache-key.sec")
	if out, err := exec.Command("nix-store", "--generate-binary-cache-key", "c-1", key, filepath.Join(dir, "k.pub")).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir-key.sec"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []string{"pushed", "nix says nothing", "nix fails on the key", "no key here"} {
		t.Run(tc, func(t *testing.T) {
			key, silent, fails := key, tc == "nix says nothing", tc != "pushed"
			switch tc {
			case "nix fails on the key":
				key = filepath.Join(dir, "dir-key.sec")
			case "no key here":
				key = filepath.Join(dir, "gone-key.sec")
			}
			var copies []string
			local := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
				switch {
				case slices.Contains(c.Argv, "build"):
					_, err := io.WriteString(c.Stdout, `[{"drvPath":"/nix/store/x.drv","outputs":{"out":"`+sys+`"}}]`)
					return err
				case slices.Contains(c.Argv, "copy"):
					copies = append(copies, strings.Join(c.Argv, " "))
					if silent {
						return &nix.ExitError{Argv: c.Argv, Code: 1}
					}
				}
				return nix.LocalRunner{}.Run(ctx, c)
			})
			f := &Fleet{Flake: "github:org/fleet", Deploy: Deploy{Parallel: 1},
				Cache: &Cache{Push: "file://" + filepath.Join(dir, "cache"), SignKey: key}}
			e := Open(f, Options{Connector: fakeConnector{}, Local: local})
			defer e.Close()
			var last CachePushEvent
			var shown []string
			for ev := range e.BuildToDeploy(context.Background(), nodes("web1"), "").All() {
				shown = append(shown, fmt.Sprintf("%+v", ev))
				if _, text, ok := logLine(ev); ok {
					shown = append(shown, text)
				}
				switch ev := ev.(type) {
				case CachePushEvent:
					last = ev
				case CommandEvent:
					if ev.Err != nil {
						shown = append(shown, ev.Err.Error())
					}
				}
			}
			if tc == "no key here" {
				// Nothing to sign with: nothing is pushed, unsigned or otherwise.
				if len(copies) != 0 || last.Err == nil || !strings.Contains(last.Err.Error(), "sign_key cannot be read here") || last.Paths != 0 {
					t.Errorf("without its key: copies %q, last push event %+v", copies, last)
				}
				for _, s := range shown {
					if strings.Contains(s, key) || strings.Contains(s, "key.sec") {
						t.Errorf("the key's path shows in %s", s)
					}
				}
				return
			}
			if len(copies) != 1 || !strings.Contains(copies[0], "?secret-key="+key) {
				t.Fatalf("Nix was not given the key: %q", copies)
			}
			if !last.Done || (last.Err != nil) != fails || !fails && last.Paths != 4 {
				t.Errorf("last push event %+v", last)
			}
			if last.Err != nil {
				shown = append(shown, last.Err.Error())
			}
			redacted := false
			for _, s := range shown {
				if strings.Contains(s, key) || strings.Contains(s, "key.sec") {
					t.Errorf("the key's path shows in %s", s)
				}
				redacted = redacted || strings.Contains(s, "secret-key=<redacted>")
			}
			if !redacted {
				t.Errorf("no event shows the push's command:\n%s", strings.Join(shown, "\n"))
			}
			if last.Err != nil {
				t.Logf("the push's error: %v", last.Err)
			}
		})
	}
}
