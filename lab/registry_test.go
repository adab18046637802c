package lab

import (
	"sort"
	"strings"
	"testing"

	"nixdeck/nix"
)

// TestRegistry checks the closures and the --load-db text the lab computes
// from this machine's records of a small NixOS-like closure (Nix 2.8's
// --dump-db of it is parsed by the nix package).
func TestRegistry(t *testing.T) {
	const (
		glibc   = "/nix/store/qsmz44axlpk7pp9ismc12f3alqx9r745-glibc-2.39-52"
		openssl = "/nix/store/nmnr24aga7rr0nq8qczx4y6sr1n838w7-openssl-3.0.14"
		osrel   = "/nix/store/8x1sf4nfvcmijl98ijvvcl1x1wp13b73-etc-os-release"
		system  = "/nix/store/hjx82dcxr6swx9rhzwkqgx0y92j5vqp0-nixos-system-canary-24.05.20240901.1f4e2a0"
	)
	infos := []nix.PathInfo{
		{Path: glibc, NarHash: "9f30ad9586ccada4e36c1aa77f9fb15985d7548ca46fcdc03f894426bcf5f74d", NarSize: 31232,
			Deriver: "/nix/store/09iwy3qiv4pqipp1sm1jqmrdlpdsv858-glibc-2.39-52.drv"},
		{Path: openssl, NarHash: "b40d71793b97ff75b16f0390eec12364c46d2e62fb7fde397c142d518c52fb4e", NarSize: 12904,
			Deriver: "/nix/store/003pkl91m05zw26wx5c1vfczw597n64s-openssl-3.0.14.drv", References: []string{glibc}},
		{Path: osrel, NarHash: "359b6efee6f984e7e624f451ddc27617cf7b30b6f17512e882a74a99859ee3b4", NarSize: 368},
		{Path: system, NarHash: "02254863ab9be9c315f32cf69e649a2bcb81263c04ff7b2708c2616226d69580", NarSize: 2056,
			Deriver:    "/nix/store/87irb3jznicaab5f5lzsf53fvvb7qsyn-nixos-system-canary-24.05.20240901.1f4e2a0.drv",
			References: []string{osrel, system, openssl}},
	}
	r := newRegistry(infos)
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
	// A host's registration is its closure's records, in the order asked.
	want := osrel + "\n359b6efee6f984e7e624f451ddc27617cf7b30b6f17512e882a74a99859ee3b4\n368\n\n0\n" +
		openssl + "\nb40d71793b97ff75b16f0390eec12364c46d2e62fb7fde397c142d518c52fb4e\n12904\n" +
		"/nix/store/003pkl91m05zw26wx5c1vfczw597n64s-openssl-3.0.14.drv\n1\n" + glibc + "\n"
	if got := r.dump([]string{osrel, openssl}); got != want {
		t.Errorf("dump:\n%s\nwant:\n%s", got, want)
	}
	if _, err := r.closure("/nix/store/00000000000000000000000000000000-missing"); err == nil {
		t.Error("closure of an unknown path: no error")
	}
	broken := newRegistry([]nix.PathInfo{{Path: openssl, References: []string{glibc}}})
	if _, err := broken.closure(openssl); err == nil || !strings.Contains(err.Error(), glibc) {
		t.Errorf("closure with a reference missing from the registry: %v", err)
	}
}
