package nix

import (
	"strconv"
	"strings"
)

// RegistrationText renders infos in the --dump-db format that
// `nix-store --load-db` reads: it registers the paths as valid, which is
// how a store whose files were put in place by other means (a NixOS image,
// a lab host) learns about them. Parsing --dump-db output and rendering
// the result gives the same text back.
func RegistrationText(infos []PathInfo) string {
	var b strings.Builder
	for _, p := range infos {
		b.WriteString(p.Path + "\n" + p.NarHash + "\n" + strconv.FormatInt(p.NarSize, 10) + "\n" +
			p.Deriver + "\n" + strconv.Itoa(len(p.References)) + "\n")
		for _, r := range p.References {
			b.WriteString(r + "\n")
		}
	}
	return b.String()
}
