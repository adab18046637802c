package fleet

import (
	"errors"
	"strings"
	"testing"
)

// selFleet is a small fleet in the order the file would list it.
const selFleet = `flake: ./
nodes:
  web01: {host: a, tags: [web, canary]}
  web02: {host: b, tags: [web]}
  web03: {host: c, tags: [web, eu]}
  db01: {host: d, tags: [db, eu]}
  db02: {host: e, tags: [db, db-replica]}
  cache: {host: f}
`

func TestSelect(t *testing.T) {
	f, err := Parse("fleet.yaml", "/srv/fleet.yaml", []byte(selFleet))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		expr, want, err string
	}{
		{expr: "", want: "web01 web02 web03 db01 db02 cache"},
		{expr: "  ", want: "web01 web02 web03 db01 db02 cache"},
		{expr: "db01", want: "db01"},
		{expr: "cache,web01", want: "web01 cache"},
		{expr: "@web", want: "web01 web02 web03"},
		{expr: "@web,!web03", want: "web01 web02"},
		{expr: "@eu,@db", want: "web03 db01 db02"},
		{expr: "web*", want: "web01 web02 web03"},
		{expr: "web0[13]", want: "web01 web03"},
		{expr: "?b0?", want: "db01 db02"},
		{expr: "@db-*", want: "db02"},
		{expr: "!@web", want: "db01 db02 cache"},
		{expr: "!@web,!cache", want: "db01 db02"},
		{expr: " @web , ! web02 ", want: "web01 web03"},
		{expr: "web01,@canary,web*", want: "web01 web02 web03"},
		{expr: "!web*,db01", want: "db01"},
		{expr: "web04", err: `selector "web04": no node of that name (did you mean web01?)`},
		{expr: "@wbe", err: `selector "@wbe": no node has that tag (did you mean web?)`},
		{expr: "@web,!web09", err: `selector "!web09": no node of that name (did you mean web01?)`},
		{expr: "app*", err: `selector "app*": matches no node name`},
		{expr: "web[", err: `selector "web[": malformed glob`},
		{expr: "@", err: `selector "@": empty tag after @`},
		{expr: "web01,,db01", err: `selector "web01,,db01": empty term (stray comma or lone !)`},
		{expr: "!", err: `selector "!": empty term (stray comma or lone !)`},
		{expr: "!!web01", err: `selector "!!web01": double negation`},
		{expr: "@db,!db*", err: `selector "@db,!db*": selects no node (everything included is excluded)`},
		{expr: "!@web,!@db,!cache", err: `selector "!@web,!@db,!cache": selects no node (everything included is excluded)`},
	}
	for _, c := range cases {
		ns, err := f.Select(c.expr)
		if c.err != "" {
			var se *SelectError
			if !errors.As(err, &se) || err.Error() != c.err {
				t.Errorf("Select(%q) error = %v, want %s", c.expr, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Select(%q): %v", c.expr, err)
			continue
		}
		if got := strings.Join(names(ns), " "); got != c.want {
			t.Errorf("Select(%q) = %s, want %s", c.expr, got, c.want)
		}
	}
}

func TestSelectReturnsACopy(t *testing.T) {
	f, _ := Parse("fleet.yaml", "/srv/fleet.yaml", []byte(selFleet))
	all, _ := f.Select("")
	all[0] = nil
	if f.Nodes[0] == nil {
		t.Error("Select(\"\") returned the fleet's own slice")
	}
	if got := strings.Join(f.Tags(), " "); got != "canary db db-replica eu web" {
		t.Errorf("Tags() = %s", got)
	}
	if f.Node("db02") == nil || f.Node("db03") != nil {
		t.Error("Node lookup")
	}
}
