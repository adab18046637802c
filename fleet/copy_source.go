package fleet

import (
	"errors"
	"fmt"
	"strings"

	"nixdeck/nix"
)

// With substitute_on_destination a host fetches what it can from its own
// caches before the operator sends the rest. At fleet scale that split
// is the point of a cache, so each host's copy ends with where its paths
// came from, and, when the operator had to send what the cache should
// have provided, why (Nix's reason: an unsigned path, a cache down).

// CopySourceEvent says where a host's copied paths came from, once its
// copy has ended (also when the copy failed because the cache was
// required and failed it).
type CopySourceEvent struct {
	EventBase
	// Substituting says the host was to substitute from its caches first
	// (substitute_on_destination); without it every path came from here.
	Substituting bool
	// FromCache counts the paths the host substituted from its caches.
	FromCache int
	// FromOperator counts the paths this machine sent (or, when the copy
	// failed for the cache, would have had to send).
	FromOperator int
	// Bytes is what this machine sent to the host.
	Bytes int64
	// Problem is nix.SubstUntrusted or nix.SubstUnreachable when the
	// host's Nix said why its caches did not provide those paths; "" when
	// it did not substitute, got everything, or its caches lack them.
	Problem string
	// Detail is the line Nix said it in, sanitised for a terminal.
	Detail string
	// Fallback is set when the operator sent those paths because of the
	// problem (the cache was not required).
	Fallback bool
}

// copySource reports the end of h's copy: a CopySourceEvent when the
// copy got as far as knowing where its paths come from, and the copy's
// log line. err is the copy's error (nil when it succeeded).
func (h *HostRun) copySource(res nix.CopyResult, substituting bool, err error) {
	var ce *nix.CacheError
	if err != nil && !errors.As(err, &ce) {
		return
	}
	h.Emit(CopySourceEvent{EventBase: h.Base(), Substituting: substituting, FromCache: res.FromCache, FromOperator: len(res.Missing), Bytes: res.Bytes,
		Problem: res.CacheProblem, Detail: res.CacheDetail, Fallback: err == nil && res.CacheProblem != ""})
	if err != nil {
		return
	}
	h.Log("copy")(fmt.Sprintf("copied %d of %d paths (%d bytes), %d substituted on the host",
		len(res.Missing), res.Closure, res.Bytes, res.FromCache))
}

// Text says where the host's paths came from, for a report: "cache 41,
// operator 3 (1.2MiB)", then, when the cache failed the host, what was
// done and Nix's reason. Its parts are numbers, nixdeck's words and
// Detail, which is already sanitised: it prints as it is.
func (e CopySourceEvent) Text() string {
	if !e.Substituting {
		return fmt.Sprintf("operator %d (%s), no cache used", e.FromOperator, strings.TrimPrefix(nix.FormatSizeDelta(e.Bytes), "+"))
	}
	if e.Problem != "" && !e.Fallback {
		return fmt.Sprintf("cache %d, %d paths not from the cache; cache required, nothing sent: %s: %s",
			e.FromCache, e.FromOperator, e.Problem, e.Detail)
	}
	s := fmt.Sprintf("cache %d, operator %d (%s)", e.FromCache, e.FromOperator, strings.TrimPrefix(nix.FormatSizeDelta(e.Bytes), "+"))
	if e.Problem != "" {
		s += fmt.Sprintf("; fell back to the operator's copy: %s: %s", e.Problem, e.Detail)
	}
	return s
}
