package ui

import (
	"strings"

	"charm.land/bubbles/v2/textinput"
)

// table is the fleet screen's list: the hosts the filter lets through,
// the cursor and the scroll offset over them, and the filter itself.
type table struct {
	all     []*hostRow
	visible []*hostRow
	cursor  int // index into visible
	offset  int // first visible row drawn
	filter  textinput.Model
	editing bool // the filter has the keys
	// cols are the table's columns, sized once: names, tags and
	// addresses are the fleet file's, which does not change under it.
	cols []column
}

func newTable(rows []*hostRow) table {
	f := textinput.New()
	f.Prompt = "/"
	f.Placeholder = "name or @tag"
	f.CharLimit = 200
	t := table{all: rows, filter: f, cols: fleetColumns(rows)}
	t.apply()
	return t
}

// apply recomputes the visible rows from the filter, keeping the cursor
// on the same host when it is still shown.
func (t *table) apply() {
	var cur *hostRow
	if t.cursor < len(t.visible) {
		cur = t.visible[t.cursor]
	}
	terms := filterTerms(t.filter.Value())
	t.visible = t.visible[:0]
	for _, r := range t.all {
		if matches(r, terms) {
			t.visible = append(t.visible, r)
		}
	}
	t.cursor = 0
	for i, r := range t.visible {
		if r == cur {
			t.cursor = i
		}
	}
}

// filterTerms splits a filter into its terms: blanks or commas apart.
func filterTerms(f string) []string {
	return strings.FieldsFunc(strings.ToLower(f), func(r rune) bool { return r == ' ' || r == ',' })
}

// matches reports whether r passes every term: "@tag" matches a host
// carrying a tag that starts so (the filter narrows as it is typed),
// anything else a host whose name contains it.
func matches(r *hostRow, terms []string) bool {
	for _, t := range terms {
		if tag, ok := strings.CutPrefix(t, "@"); ok {
			found := false
			for _, have := range r.node.Tags {
				if strings.HasPrefix(strings.ToLower(have), tag) {
					found = true
				}
			}
			if !found {
				return false
			}
		} else if !strings.Contains(strings.ToLower(r.node.Name), t) {
			return false
		}
	}
	return true
}

// current is the highlighted host; nil when the filter shows none.
func (t *table) current() *hostRow {
	if t.cursor < len(t.visible) {
		return t.visible[t.cursor]
	}
	return nil
}

// move moves the cursor by d rows, within the list.
func (t *table) move(d int) {
	t.cursor = max(0, min(len(t.visible)-1, t.cursor+d))
}

// scroll keeps the cursor within the rows drawn, height of them.
func (t *table) scroll(height int) {
	t.offset = keepInView(t.cursor, t.offset, height, len(t.visible))
}

// selected lists the selected hosts, in fleet order, filtered or not:
// a selection is the operator's, not the filter's.
func (t *table) selected() []*hostRow {
	var s []*hostRow
	for _, r := range t.all {
		if r.selected {
			s = append(s, r)
		}
	}
	return s
}

// targets are the hosts an action works on: the selected ones, else the
// highlighted one.
func (t *table) targets() []*hostRow {
	if s := t.selected(); len(s) > 0 {
		return s
	}
	if c := t.current(); c != nil {
		return []*hostRow{c}
	}
	return nil
}
