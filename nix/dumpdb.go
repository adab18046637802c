package nix

import (
	"fmt"
	"strconv"
	"strings"
)

// parseDumpDB parses nix-store --dump-db output: per path, lines of path,
// NAR hash, NAR size, deriver (may be empty), reference count, references.
func parseDumpDB(out string) ([]PathInfo, error) {
	lines := strings.Split(out, "\n")
	var infos []PathInfo
	for i := 0; i+4 < len(lines); {
		info := PathInfo{Path: lines[i], NarHash: lines[i+1], Deriver: lines[i+3]}
		size, err1 := strconv.ParseInt(lines[i+2], 10, 64)
		n, err2 := strconv.Atoi(lines[i+4])
		// n is bounded before i+5+n is formed: a huge count would wrap.
		if !strings.HasPrefix(info.Path, "/") || err1 != nil || err2 != nil || size < 0 || n < 0 || n > len(lines) || i+5+n > len(lines) {
			return nil, fmt.Errorf("unexpected nix-store --dump-db record at line %d: %q", i+1, strings.Join(lines[i:min(i+5, len(lines))], "|"))
		}
		info.NarSize = size
		info.References = lines[i+5 : i+5+n]
		infos = append(infos, info)
		i += 5 + n
	}
	return infos, nil
}
