package fleet

import (
	"fmt"
	"path"
	"strings"
)

// SelectError is a selector expression that cannot be applied to the
// fleet: a malformed term, a term that matches no node, or a selection
// that ends up empty.
type SelectError struct {
	// Expr is the whole expression.
	Expr string
	// Term is the term at fault; "" when the expression as a whole is.
	Term string
	// Reason says what is wrong.
	Reason string
}

// Error names the term at fault, or the whole expression.
func (e *SelectError) Error() string {
	if e.Term != "" {
		return fmt.Sprintf("selector %q: %s", e.Term, e.Reason)
	}
	return fmt.Sprintf("selector %q: %s", e.Expr, e.Reason)
}

// Select returns the nodes an expression picks, in fleet file order and
// without repeats. The expression is a comma-separated list of terms: a
// node name, `@tag`, a glob over node names or tags (`web*`, `@db-*`,
// path.Match syntax), and `!term` to exclude. With only exclusions every
// other node is selected; "" selects all nodes. A term that matches no node
// and a selection that is empty are errors (*SelectError).
func (f *Fleet) Select(expr string) ([]*Node, error) {
	if strings.TrimSpace(expr) == "" {
		return append([]*Node(nil), f.Nodes...), nil
	}
	include := map[*Node]bool{}
	exclude := map[*Node]bool{}
	anyInclude := false
	for _, raw := range strings.Split(expr, ",") {
		term := strings.TrimSpace(raw)
		into, t := include, term
		if rest, ok := strings.CutPrefix(term, "!"); ok {
			into, t = exclude, strings.TrimSpace(rest)
		} else {
			anyInclude = true
		}
		ns, reason := f.match(t)
		if reason != "" {
			if term == "" {
				return nil, &SelectError{Expr: expr, Reason: reason}
			}
			return nil, &SelectError{Expr: expr, Term: term, Reason: reason}
		}
		for _, n := range ns {
			into[n] = true
		}
	}
	var out []*Node
	for _, n := range f.Nodes {
		if (include[n] || !anyInclude) && !exclude[n] {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, &SelectError{Expr: expr, Reason: "selects no node (everything included is excluded)"}
	}
	return out, nil
}

// match resolves one term without its `!`; reason is non-empty when the
// term is malformed or matches nothing.
func (f *Fleet) match(t string) (ns []*Node, reason string) {
	switch {
	case t == "":
		return nil, "empty term (stray comma or lone !)"
	case strings.HasPrefix(t, "!"):
		return nil, "double negation"
	case strings.HasPrefix(t, "@"):
		return f.matchTag(t[1:])
	case strings.ContainsAny(t, `*?[\`):
		if _, err := path.Match(t, ""); err != nil {
			return nil, "malformed glob"
		}
		for _, n := range f.Nodes {
			if ok, _ := path.Match(t, n.Name); ok {
				ns = append(ns, n)
			}
		}
		if len(ns) == 0 {
			return nil, "matches no node name"
		}
		return ns, ""
	}
	if n := f.Node(t); n != nil {
		return []*Node{n}, ""
	}
	return nil, "no node of that name" + didYouMean(t, f.names())
}

// matchTag resolves `@tag`, where tag may be a glob.
func (f *Fleet) matchTag(tag string) ([]*Node, string) {
	if tag == "" {
		return nil, "empty tag after @"
	}
	if _, err := path.Match(tag, ""); err != nil {
		return nil, "malformed glob"
	}
	var ns []*Node
	for _, n := range f.Nodes {
		for _, nt := range n.Tags {
			if ok, _ := path.Match(tag, nt); ok {
				ns = append(ns, n)
				break
			}
		}
	}
	if len(ns) == 0 {
		return nil, "no node has that tag" + didYouMean(tag, f.Tags())
	}
	return ns, ""
}

// names lists the node names in file order.
func (f *Fleet) names() []string {
	ns := make([]string, len(f.Nodes))
	for i, n := range f.Nodes {
		ns[i] = n.Name
	}
	return ns
}

// didYouMean suggests the closest known word, or returns "".
func didYouMean(w string, known []string) string {
	if s := suggest(w, known); s != "" {
		return fmt.Sprintf(" (did you mean %s?)", s)
	}
	return ""
}
