// Package logview is the console's log pane: per-host ring buffers that
// the root model fills as engine events arrive, and a Model that shows
// one host's buffer at a time, following new lines or scrolled back,
// with search and [ ] to move between hosts. The same pane shows a
// host's journal tail (fleet.Engine.Journal) from a Buffers of its own.
package logview

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"nixdeck/internal/termtext"
	"nixdeck/ui/internal/cells"
)

// DefaultCapacity is how many lines a Buffers keeps per host unless told
// otherwise. The on-disk log (fleet's per-host log files) keeps every
// line; the console keeps the recent ones.
const DefaultCapacity = 10_000

// MaxLineBytes bounds the text of one line kept: the rest is cut, with a
// note of how much, so that a host that sends megabyte lines cannot fill
// the console's memory. The on-disk log keeps more of it.
const MaxLineBytes = 1024

// bytesPerLine is the mean line length the byte budget of a host allows
// for: a host whose lines are longer keeps fewer of them (at least
// capacity*bytesPerLine/MaxLineBytes). With the default capacity a host
// holds at most 2.5 MiB of text, whatever it sends.
const bytesPerLine = 256

// Buffers holds the recent log lines of every host, a ring per host. It
// is safe for one goroutine, the root model's: Update appends and View
// reads, one after the other.
type Buffers struct {
	capacity int
	rings    map[string]*ring
}

// NewBuffers returns Buffers that keep capacityPerHost lines of each host
// (DefaultCapacity when it is not positive).
func NewBuffers(capacityPerHost int) *Buffers {
	if capacityPerHost <= 0 {
		capacityPerHost = DefaultCapacity
	}
	return &Buffers{capacity: capacityPerHost, rings: map[string]*ring{}}
}

// Capacity is how many lines each host keeps.
func (b *Buffers) Capacity() int { return b.capacity }

// Append adds text from host, one line or several (split at newlines),
// in O(1) per line. The text is made safe for the terminal here, once
// (termtext.Visible: a host's escape sequences are shown, never obeyed),
// tabs expanded and each line bounded by MaxLineBytes.
func (b *Buffers) Append(host, text string) {
	r := b.rings[host]
	if r == nil {
		r = &ring{max: b.capacity, maxBytes: b.capacity * bytesPerLine}
		b.rings[host] = r
	}
	for {
		line, rest, more := strings.Cut(text, "\n")
		r.push(clean(line))
		if !more {
			return
		}
		text = rest
	}
}

// clean makes one line of host text fit to keep and to show.
func clean(line string) string {
	line = strings.TrimSuffix(line, "\r")
	cut := 0
	if len(line) > MaxLineBytes {
		end := MaxLineBytes
		for end > 0 && !utf8.RuneStart(line[end]) {
			end--
		}
		cut, line = len(line)-end, line[:end]
	}
	line = termtext.Visible(cells.ExpandTabs(line))
	if cut > 0 {
		line += fmt.Sprintf(" %s (%d more bytes not kept)", cells.Ellipsis, cut)
	}
	return line
}

// Clear forgets host's lines, as when its journal tail restarts.
func (b *Buffers) Clear(host string) { delete(b.rings, host) }

// Len is how many lines of host are kept.
func (b *Buffers) Len(host string) int {
	if r := b.rings[host]; r != nil {
		return r.n
	}
	return 0
}

// Dropped is how many lines of host were pushed out of its ring by newer
// ones: they are in the on-disk log only.
func (b *Buffers) Dropped(host string) int64 {
	if r := b.rings[host]; r != nil {
		return r.first()
	}
	return 0
}

// span returns host's ring and the numbers of its oldest kept line and
// the next line to come; an empty span for a host with no lines.
func (b *Buffers) span(host string) (r *ring, first, end int64) {
	if r = b.rings[host]; r == nil {
		return nil, 0, 0
	}
	return r, r.first(), r.end()
}
