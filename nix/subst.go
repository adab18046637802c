package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"nixdeck/internal/termtext"
)

// With substitute_on_destination, a host's `nix-store --serve --write`
// substitutes from its own configured substituters before nixdeck sends
// anything, and says on stderr only why a path did not come from them.
// That stderr is read here line by line, bounded, and what Nix said is
// classified, so that the report can say why the operator had to send
// what the cache should have provided, and a copy that requires the
// cache can stop. The texts are Nix's own (libstore):
//
//	untrusted, Nix 2.8:     the substitute for '%s' from '%s' is not signed by any of the keys in 'trusted-public-keys'
//	untrusted, Nix ≥ 2.9:   ignoring substitute for '%s' from '%s', as it's not signed by any of the keys in 'trusted-public-keys'
//	unreachable, all:       unable to download '%s': Couldn't connect to server (7)   (curl's text and code)
//	                        unable to download '%s': HTTP error 500 ('…')
//	                        disabling binary cache '%s' for %s seconds
//	                        '%s' does not appear to be a binary cache
//	                        substituter '%s' is disabled
//
// each after "warning: ", "error: " or "error (ignored): " (Nix 2.8 also
// writes "warning: error: …; retrying in N ms" while it retries a
// download). Without tryFallback, a cache that Nix knows from an earlier
// session (its disk cache keeps nix-cache-info) and cannot reach now ends
// the whole session with such an error; afterSubstitute falls back then.

// Substitution problems, in CopyResult.CacheProblem.
const (
	// SubstUntrusted: the host's Nix refused a path from a cache because it
	// is not signed by a key in its trusted-public-keys.
	SubstUntrusted = "untrusted"
	// SubstUnreachable: a cache could not be reached (connection refused,
	// an HTTP error, a cache Nix disabled after failures).
	SubstUnreachable = "unreachable"
)

const (
	// maxSubstLine bounds one stderr line kept for classification; the
	// rest of a longer line is dropped (Nix's lines are a few hundred
	// bytes: two store paths and a URL).
	maxSubstLine = 2 << 10
	// maxSubstDetail bounds the line reported as CacheDetail, escaped.
	maxSubstDetail = 300
)

// substLog is the Stderr of a host's serve session: it classifies what
// Nix says while substituting, keeping only the first line of each kind
// of problem and the line being read, so that a host writing without end
// costs a bounded amount of memory.
type substLog struct {
	mu        sync.Mutex
	line      []byte
	first     map[string]string // problem → the first line saying it
	firstKind string            // the kind seen first
}

// Write splits p into lines and classifies each complete one.
func (l *substLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxSubstLine - len(l.line); len(chunk) > room {
			chunk = chunk[:room] // the rest of a long line is dropped
		}
		l.line = append(l.line, chunk...)
		if i < 0 {
			break
		}
		l.classify(string(l.line))
		l.line, p = l.line[:0], p[i+1:]
	}
	return n, nil
}

// classify records line when it reports a problem; called with mu held.
func (l *substLog) classify(line string) {
	kind := substProblemOf(line)
	if kind == "" {
		return
	}
	if l.first == nil {
		l.first = map[string]string{}
	}
	if _, ok := l.first[kind]; !ok {
		l.first[kind] = line
	}
	if l.firstKind == "" {
		l.firstKind = kind
	}
}

// result returns the problem Nix reported and its line (sanitised): an
// untrusted path comes first, as the more specific cause (a host may
// both fail to reach one cache and refuse another's paths); "" when Nix
// reported none. A last line without its newline counts too.
func (l *substLog) result() (problem, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.line) > 0 {
		l.classify(string(l.line))
		l.line = l.line[:0]
	}
	for _, kind := range []string{SubstUntrusted, SubstUnreachable} {
		if line, ok := l.first[kind]; ok {
			return kind, substDetail(line)
		}
	}
	return "", ""
}

// substProblemOf classifies one line of Nix's stderr.
func substProblemOf(line string) string {
	msg := nixMessage(line)
	switch {
	case strings.Contains(msg, "not signed by any of the keys in 'trusted-public-keys'"):
		return SubstUntrusted
	case strings.HasPrefix(msg, "unable to download '"),
		strings.HasPrefix(msg, "disabling binary cache '"),
		strings.HasPrefix(msg, "'") && strings.HasSuffix(msg, "' does not appear to be a binary cache"),
		strings.HasPrefix(msg, "substituter '") && strings.HasSuffix(msg, "' is disabled"):
		return SubstUnreachable
	}
	return ""
}

// nixMessage is a line of Nix's stderr without its "warning: " and
// "error: " prefixes and a retry's "; retrying in N ms".
func nixMessage(line string) string {
	line = strings.TrimSpace(line)
	for cut := true; cut; {
		cut = false
		for _, prefix := range []string{"warning: ", "error: ", "error (ignored): "} {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				line, cut = rest, true
			}
		}
	}
	if i := strings.LastIndex(line, "; retrying in "); i >= 0 && strings.HasSuffix(line, " ms") {
		line = line[:i]
	}
	return line
}

// substDetail is line as a report shows it: Nix's message, escaped for
// a terminal and cut to maxSubstDetail bytes.
func substDetail(line string) string {
	s := termtext.Visible(nixMessage(line))
	if len(s) <= maxSubstDetail {
		return s
	}
	cut := maxSubstDetail - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut-- // not inside a character
	}
	return s[:cut] + "…"
}

// CacheError reports a host whose copy required its caches (CopyTarget.
// CacheRequired) while they failed it: Nix's reason, and how many paths
// the operator would have had to send.
type CacheError struct {
	// Problem is SubstUntrusted or SubstUnreachable.
	Problem string
	// Detail is Nix's own line, sanitised and bounded.
	Detail string
	// Missing is the number of paths the host still lacked.
	Missing int
}

// Error renders "the cache is required, and the host's Nix did not
// substitute 3 paths from it (untrusted: …)": the decision first, as
// reports cut long causes.
func (e *CacheError) Error() string {
	return fmt.Sprintf("the cache is required, and the host's Nix did not substitute %d paths from it (%s: %s)",
		e.Missing, e.Problem, e.Detail)
}

// substError is a failure of the host's session while it substituted
// (the session has ended): without tryFallback, Nix ends the whole
// `nix-store --serve` when a cache it knows from an earlier session
// (its disk cache remembers the cache's nix-cache-info) cannot be reached.
type substError struct{ error }

func (e substError) Unwrap() error { return e.error }

// afterSubstitute decides the copy of a host that substituted, given how
// its session's substitution ended (err). Its caches failed it when Nix
// said so on stderr (see substLog); whether it did is known only once
// that stderr has all been read, which the session's answers do not wait
// for (stdout and stderr travel apart), so the session is ended first
// when the decision depends on it:
//   - the session died substituting: with a problem reported, the host
//     fails with a *CacheError when it requires its caches, else a new
//     session (lacking again) takes what it lacks from this machine; with
//     none, the session's failure stands;
//   - the host requires its caches and still lacks paths: with a problem
//     it fails with a *CacheError; without one its caches simply lack
//     those paths, and a new session takes them from this machine.
//
// The problem found is recorded in res either way.
func afterSubstitute(ctx context.Context, s *serveSession, t CopyTarget, log *substLog, res *CopyResult, err error,
	again func(*serveSession) ([]string, error)) (*serveSession, error) {
	var se substError
	switch {
	case errors.As(err, &se):
		// The session has ended: everything it said is in log.
		if res.CacheProblem, res.CacheDetail = log.result(); res.CacheProblem == "" || ctx.Err() != nil {
			return s, err
		}
	case err != nil:
		return s, err
	case !t.CacheRequired || len(res.Missing) == 0:
		return s, nil
	default:
		if err := s.close(); err != nil {
			return s, fmt.Errorf("substitute on destination: %w", err)
		}
		res.CacheProblem, res.CacheDetail = log.result()
	}
	if res.CacheProblem != "" && t.CacheRequired {
		return s, &CacheError{Problem: res.CacheProblem, Detail: res.CacheDetail, Missing: len(res.Missing)}
	}
	before := len(res.Missing)
	s = startServe(ctx, t.Runner, serveWriteArgv, true, 0, log)
	if res.Missing, err = again(s); err == nil && before-len(res.Missing) > res.FromCache {
		res.FromCache = before - len(res.Missing) // what it took before its session died
	}
	return s, err
}
