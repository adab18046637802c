package nix

import "testing"

// TestRegistrationTextRoundTrip checks that rendering parsed --dump-db
// output gives it back byte for byte, hash and empty deriver included.
func TestRegistrationTextRoundTrip(t *testing.T) {
	infos, err := parseDumpDB(dumpDB)
	if err != nil {
		t.Fatal(err)
	}
	if infos[0].NarHash != "edc6f1c1d70b7e4b7a5cee8f5dbe8f31b6df3a7e83fd0f0e3bb0e8e53a2a1d33" {
		t.Errorf("NarHash = %q", infos[0].NarHash)
	}
	if got := RegistrationText(infos); got != dumpDB {
		t.Errorf("RegistrationText:\n%s\nwant:\n%s", got, dumpDB)
	}
	if got := RegistrationText(nil); got != "" {
		t.Errorf("RegistrationText(nil) = %q", got)
	}
}
