package nix

import (
	"fmt"
	"strings"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// lineOp is one line of a line diff: ' ' kept, '-' removed, '+' added.
type lineOp struct {
	op   byte
	text string // with its newline, if it had one
}

// UnifiedDiff returns the hunks ("@@ -a,b +c,d @@" and lines) of a line
// diff of old and new with ctx lines of context, "" when they are equal.
// The line matching is go-diff's (Myers' algorithm on whole lines).
func UnifiedDiff(old, new string, ctx int) string {
	if old == new {
		return ""
	}
	ops := lineOps(old, new)
	var b strings.Builder
	for start := 0; start < len(ops); {
		// Find the next change and the hunk around it.
		first := start
		for first < len(ops) && ops[first].op == ' ' {
			first++
		}
		if first == len(ops) {
			break
		}
		lo := max(first-ctx, start)
		hi := first
		for i := first; i < len(ops); i++ {
			if ops[i].op != ' ' {
				hi = i
			} else if i-hi > 2*ctx {
				break
			}
		}
		hi = min(hi+ctx+1, len(ops))
		writeHunk(&b, ops, lo, hi)
		start = hi
	}
	return b.String()
}

// writeHunk writes ops[lo:hi] with its header; line numbers count the
// lines before lo on each side.
func writeHunk(b *strings.Builder, ops []lineOp, lo, hi int) {
	oldLine, newLine := 1, 1
	for _, o := range ops[:lo] {
		if o.op != '+' {
			oldLine++
		}
		if o.op != '-' {
			newLine++
		}
	}
	oldN, newN := 0, 0
	for _, o := range ops[lo:hi] {
		if o.op != '+' {
			oldN++
		}
		if o.op != '-' {
			newN++
		}
	}
	// As in diff -u, an empty range starts at the line before it.
	if oldN == 0 {
		oldLine--
	}
	if newN == 0 {
		newLine--
	}
	fmt.Fprintf(b, "@@ -%s +%s @@\n", hunkRange(oldLine, oldN), hunkRange(newLine, newN))
	for _, o := range ops[lo:hi] {
		b.WriteByte(o.op)
		b.WriteString(o.text)
		if !strings.HasSuffix(o.text, "\n") {
			b.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

func hunkRange(start, n int) string {
	if n == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

// lineOps diffs old and new line by line.
func lineOps(old, new string) []lineOp {
	dmp := diffmatchpatch.New()
	a, b, lines := dmp.DiffLinesToRunes(old, new)
	diffs := dmp.DiffCharsToLines(dmp.DiffMainRunes(a, b, false), lines)
	var ops []lineOp
	for _, d := range diffs {
		op := byte(' ')
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			op = '-'
		case diffmatchpatch.DiffInsert:
			op = '+'
		}
		for _, l := range strings.SplitAfter(d.Text, "\n") {
			if l != "" {
				ops = append(ops, lineOp{op, l})
			}
		}
	}
	return ops
}
