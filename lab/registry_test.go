package lab

import (
	"sort"
	"strings"
	"testing"
)

// dumpDB is nix-store --dump-db output of Nix 2.8 for a small closure
// (path, NAR hash, NAR size, deriver, reference count, references).
const dumpDB = `/nix/store/qsmz44axlpk7pp9ismc12f3alqx9r745-glibc-2.39-52
9f30ad9586ccada4e36c1aa77f9fb15985d7548ca46fcdc03f894426bcf5f74d
31232
/nix/store/09iwy3qiv4pqipp1sm1jqmrdlpdsv858-glibc-2.39-52.drv
0
/nix/store/nmnr24aga7rr0nq8qczx4y6sr1n838w7-openssl-3.0.14
b40d71793b97ff75b16f0390eec12364c46d2e62fb7fde397c142d518c52fb4e
12904
/nix/store/003pkl91m05zw26wx5c1vfczw597n64s-openssl-3.0.14.drv
1
/nix/store/qsmz44axlpk7pp9ismc12f3alqx9r745-glibc-2.39-52
/nix/store/8x1sf4nfvcmijl98ijvvcl1x1wp13b73-etc-os-release
359b6efee6f984e7e624f451ddc27617cf7b30b6f17512e882a74a99859ee3b4
368

0
/nix/store/hjx82dcxr6swx9rhzwkqgx0y92j5vqp0-nixos-system-canary-24.05.20240901.1f4e2a0
02254863ab9be9c315f32cf69e649a2bcb81263c04ff7b2708c2616226d69580
2056
/nix/store/87irb3jznicaab5f5lzsf53fvvb7qsyn-nixos-system-canary-24.05.20240901.1f4e2a0.drv
3
/nix/store/8x1sf4nfvcmijl98ijvvcl1x1wp13b73-etc-os-release
/nix/store/hjx82dcxr6swx9rhzwkqgx0y92j5vqp0-nixos-system-canary-24.05.20240901.1f4e2a0
/nix/store/nmnr24aga7rr0nq8qczx4y6sr1n838w7-openssl-3.0.14
`

func TestParseDumpDB(t *testing.T) {
	const (
		glibc   = "/nix/store/qsmz44axlpk7pp9ismc12f3alqx9r745-glibc-2.39-52"
		openssl = "/nix/store/nmnr24aga7rr0nq8qczx4y6sr1n838w7-openssl-3.0.14"
		osrel   = "/nix/store/8x1sf4nfvcmijl98ijvvcl1x1wp13b73-etc-os-release"
		system  = "/nix/store/hjx82dcxr6swx9rhzwkqgx0y92j5vqp0-nixos-system-canary-24.05.20240901.1f4e2a0"
	)
	r, err := parseDumpDB(dumpDB)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path    string
		closure []string
	}{
		{glibc, []string{glibc}},
		{openssl, []string{openssl, glibc}},
		{osrel, []string{osrel}},
		{system, []string{osrel, system, openssl, glibc}},
	}
	for _, tt := range tests {
		got, err := r.closure(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		want := append([]string{}, tt.closure...)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("closure(%s) = %v, want %v", tt.path, got, want)
		}
	}
	// The dump of every path is the input again: --load-db reads what --dump-db wrote.
	all, _ := r.closure(system)
	if d := r.dump(all); len(d) != len(dumpDB) {
		t.Errorf("dump of the whole closure is %d bytes, the input %d", len(d), len(dumpDB))
	}
	if _, err := r.closure("/nix/store/00000000000000000000000000000000-missing"); err == nil {
		t.Error("closure of an unknown path: no error")
	}
}

func TestParseDumpDBErrors(t *testing.T) {
	for _, in := range []string{
		"/nix/store/x-a\nhash\n1\n\nnotanumber\n",
		"relative/path\nhash\n1\n\n0\n",
		"/nix/store/x-a\nhash\n1\n\n3\n/nix/store/y-b\n",
	} {
		if _, err := parseDumpDB(in); err == nil {
			t.Errorf("parseDumpDB(%q): no error", in)
		}
	}
}
