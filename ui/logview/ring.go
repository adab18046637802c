package logview

// ring is one host's lines: the newest ones, at most max of them and at
// most maxBytes of text. Lines are numbered from 0 in the order they came
// (a line's number never changes), so that a position held by the view
// stays on its line while newer ones push the oldest out.
type ring struct {
	lines []string // circular; grows up to max, then is overwritten
	head  int      // index in lines of the oldest line kept
	n     int      // lines kept
	bytes int      // their text
	total int64    // lines ever pushed: the next line's number

	max, maxBytes int
}

// push adds a line, dropping the oldest when a bound is reached. It is
// O(1), amortised over the growth of lines (which doubles, up to max).
func (r *ring) push(s string) {
	for r.n > 0 && (r.n == r.max || r.bytes+len(s) > r.maxBytes) {
		r.dropOldest()
	}
	if r.n == len(r.lines) {
		r.grow()
	}
	r.lines[(r.head+r.n)%len(r.lines)] = s
	r.n++
	r.bytes += len(s)
	r.total++
}

// dropOldest forgets the oldest line.
func (r *ring) dropOldest() {
	r.bytes -= len(r.lines[r.head])
	r.lines[r.head] = "" // let the text go
	r.head = (r.head + 1) % len(r.lines)
	r.n--
}

// grow makes room for one more line, keeping the order.
func (r *ring) grow() {
	size := min(max(2*len(r.lines), 64), r.max)
	lines := make([]string, size)
	for i := range r.n {
		lines[i] = r.lines[(r.head+i)%len(r.lines)]
	}
	r.lines, r.head = lines, 0
}

// first is the number of the oldest line kept; first == end when none is.
func (r *ring) first() int64 { return r.total - int64(r.n) }

// end is the number the next line will get.
func (r *ring) end() int64 { return r.total }

// at returns line number i, which must be in [first, end).
func (r *ring) at(i int64) string {
	return r.lines[(r.head+int(i-r.first()))%len(r.lines)]
}
