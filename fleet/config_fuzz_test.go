package fleet

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic or loop, and that it
// returns either a fleet or FileErrors, never both or neither.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	more, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(selFleet))
	f.Add([]byte("flake: ./\nx-a: &a {port: 22}\nnodes:\n  a: {host: h, <<: *a}\n"))
	f.Add([]byte(laughs(true)))
	f.Add([]byte("flake: ./\nnodes:\n  a: {host: \"h\\e\", port: 99999999999999999999}\n"))
	f.Add([]byte("flake: ./\ndefaults: {build_on: builder:big}\nbuilders:\n  big: {host: b, systems: [x86_64-linux], max_jobs: 8}\nnodes:\n  a: {host: h, build_on: 'builder:bgi'}\n"))
	f.Add([]byte("flake: ./\nnodes:\n  a: {host: h}\ncache:\n  push: 's3://c?region=x'\n  sign_key: ./k\n  substituter: https://c\n  public_key: 'c-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := Parse("fuzz.yaml", "/srv/fuzz.yaml", data)
		var fes FileErrors
		switch {
		case err == nil && fl == nil, err != nil && fl != nil:
			t.Fatalf("Parse = %v, %v", fl, err)
		case err != nil && (!errors.As(err, &fes) || len(fes) == 0):
			t.Fatalf("err = %v (%T), want FileErrors", err, err)
		case err == nil:
			for _, n := range fl.Nodes {
				if name := n.BuilderName(); name != "" && fl.Builder(name) == nil {
					t.Fatalf("Load accepted build_on %q without that builder", n.BuildOn)
				}
			}
			for _, expr := range fl.Deploy.Canary {
				if _, err := fl.Select(expr); err != nil {
					t.Fatalf("Load accepted canary %q: %v", expr, err)
				}
			}
		}
	})
}
