package logview

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// first finds the newest match at or above the last line in view (the
// search goes up through the log, as one reads it back from the end),
// and from the newest line when there is none there.
func (m *Model) first() {
	_, end := m.window()
	m.find(end, -1)
}

// next finds the match after the current one: dir 1 goes to newer lines
// (n), -1 to older (N). Without a current match it starts from the edge
// of the view in that direction.
func (m *Model) next(dir int) {
	from := m.match
	if from < 0 {
		top, end := m.window()
		from = end
		if dir > 0 {
			from = top - 1
		}
	}
	if dir > 0 {
		m.find(from+1, 1)
	} else {
		m.find(from, -1)
	}
}

// find looks for the query from line from: dir 1 at from and after it,
// -1 before it. Past the end of the buffer it goes round once and says
// so; it says so too when nothing matches at all.
func (m *Model) find(from int64, dir int) {
	r, first, end := m.buffers().span(m.focus)
	if r == nil || first == end {
		m.match, m.notice = -1, fmt.Sprintf("no lines to search for %q", m.query)
		return
	}
	q := m.query
	hit := int64(-1)
	if dir > 0 {
		for i := max(from, first); i < end && hit < 0; i++ {
			if contains(r.at(i), q) {
				hit = i
			}
		}
	} else {
		for i := min(from, end) - 1; i >= first && hit < 0; i-- {
			if contains(r.at(i), q) {
				hit = i
			}
		}
	}
	wrapped := ""
	if hit < 0 {
		// Round once: from the other end up to where the search began.
		if dir > 0 {
			wrapped = "from the oldest line: "
			for i := first; i < min(from, end) && hit < 0; i++ {
				if contains(r.at(i), q) {
					hit = i
				}
			}
		} else {
			wrapped = "from the newest line: "
			for i := end - 1; i >= max(from, first) && hit < 0; i-- {
				if contains(r.at(i), q) {
					hit = i
				}
			}
		}
	}
	if hit < 0 {
		m.match, m.notice = -1, fmt.Sprintf("no line matches %q", q)
		return
	}
	m.match = hit
	m.reveal(hit)
	nth, total := 0, 0
	for i := first; i < end; i++ {
		if contains(r.at(i), q) {
			total++
			if i <= hit {
				nth++
			}
		}
	}
	m.notice = fmt.Sprintf("%smatch %d of %d, line %d", wrapped, nth, total, hit+1)
}

// reveal scrolls so that line n is in view, a third of the way down when
// it was out of it; the view stops following.
func (m *Model) reveal(n int64) {
	top, end := m.window()
	if n >= top && n < end {
		m.pos[m.focus] = position{top: top}
		return
	}
	m.setTop(n - int64(m.bodyRows())/3)
	p := m.place()
	m.pos[m.focus] = position{top: p.top}
}

// contains reports whether line holds q: ignoring case when q has no
// capital letter ("smart case", as in less -i and vim), exactly otherwise.
func contains(line, q string) bool {
	return index(line, q) >= 0
}

// index is where q first stands in line (see contains), -1 if nowhere.
func index(line, q string) int {
	if q == "" {
		return -1
	}
	if hasUpper(q) {
		return strings.Index(line, q)
	}
	// Lines are mostly ASCII: compare byte by byte where the first
	// letter matches, and the whole of q with EqualFold there.
	c := q[0]
	lower, upper := c, c
	if 'a' <= c && c <= 'z' {
		upper = c - 'a' + 'A'
	}
	for i := 0; i+len(q) <= len(line); i++ {
		if b := line[i]; (b == lower || b == upper || c >= utf8.RuneSelf) && strings.EqualFold(line[i:i+len(q)], q) {
			return i
		}
	}
	return -1
}

func hasUpper(s string) bool {
	for _, r := range s {
		if unicode.IsUpper(r) {
			return true
		}
	}
	return false
}
