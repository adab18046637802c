package nix

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
	"time"
)

// The checks on values a host reports: every number is parsed strictly and
// held to a plausible range (no overflow reaches the rest of nixdeck), and
// every path that is to name a store object must look like one.

// maxGeneration bounds generation numbers: Nix counts from 1, one per
// profile change; a larger number is not one Nix wrote.
const maxGeneration = math.MaxInt32

// maxUnixTime is the last second of year 9999, beyond which a time cannot
// be written as JSON (and no link on a host was made).
const maxUnixTime = 253402300799

// maxUptime is far beyond any machine's uptime, well within time.Duration.
const maxUptime = 100 * 365 * 24 * time.Hour

// nixBase32 is the alphabet of store path hashes.
const nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"

// checkStoreObject checks that p names a store object: StoreDir, a
// 32-character hash, a dash and a name of Nix's allowed characters, and
// nothing below it.
func checkStoreObject(p string) error {
	base, ok := strings.CutPrefix(p, StoreDir+"/")
	if !ok {
		return fmt.Errorf("not in %s", StoreDir)
	}
	if len(base) < 34 || base[32] != '-' || strings.IndexFunc(base[:32], func(r rune) bool { return !strings.ContainsRune(nixBase32, r) }) >= 0 {
		return errors.New("not a store object")
	}
	name := base[33:]
	if len(name) > 211 || name[0] == '.' || strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+-._?=", r))
	}) >= 0 {
		return errors.New("not a store object")
	}
	return nil
}

// checkStoreFile checks that p is a clean path in (or of) a store object.
func checkStoreFile(p string) error {
	if path.Clean(p) != p {
		return errors.New("not a clean path")
	}
	obj := p
	if rest, ok := strings.CutPrefix(p, StoreDir+"/"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			obj = p[:len(StoreDir)+1+i]
		}
	}
	return checkStoreObject(obj)
}

// generationNumber returns N of a "system-N-link" name. N must be written
// as Nix writes it (decimal, no sign, no leading zero) and be in range, so
// that no two names give one number.
func generationNumber(name string) (int, error) {
	n, ok := strings.CutPrefix(name, "system-")
	if n, ok = strings.CutSuffix(n, "-link"); !ok || n == "" {
		return 0, errors.New("not a generation link name")
	}
	if n[0] == '0' || strings.IndexFunc(n, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, fmt.Errorf("generation number %s is not a plain decimal", excerpt(n))
	}
	v, err := strconv.ParseUint(n, 10, 64)
	if err != nil || v > maxGeneration {
		return 0, fmt.Errorf("generation number %s out of range (at most %d)", excerpt(n), maxGeneration)
	}
	return int(v), nil
}

// parseUnixTime parses seconds since the epoch as find's %T@ prints them:
// digits, then maybe a dot and the fraction, which is dropped.
func parseUnixTime(v string) (time.Time, error) {
	whole, frac, dot := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || whole[0] < '0' || sec > maxUnixTime || dot && (frac == "" || strings.Trim(frac, "0123456789") != "") {
		return time.Time{}, fmt.Errorf("%s is not a time in seconds since 1970", excerpt(v))
	}
	return time.Unix(sec, 0).UTC(), nil
}

// parseUptime parses the first field of /proc/uptime, whole seconds kept.
func parseUptime(v string) (time.Duration, error) {
	v = strings.TrimSuffix(v, "\n")
	up, err := strconv.ParseFloat(v, 64)
	// Digits and one dot only: ParseFloat would also take "Inf", "NaN",
	// signs, exponents and hex.
	plain := v != "" && strings.Count(v, ".") <= 1 && strings.Trim(v, "0123456789.") == ""
	if err != nil || !plain || up > maxUptime.Seconds() {
		return 0, fmt.Errorf("uptime %s is not a plausible number of seconds", excerpt(v))
	}
	return time.Duration(up * float64(time.Second)).Truncate(time.Second), nil
}
