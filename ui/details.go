package ui

import (
	"fmt"
	"strings"
	"time"

	"nixdeck/internal/termtext"
)

// detailsView is enter on a host: everything the console knows of it,
// the full cause of a failure included (a table row has room for its
// start only).
func (m *Model) detailsView(height int) string {
	r := m.table.current()
	if r == nil {
		return ""
	}
	var lines []string
	add := func(label, value string) {
		lines = append(lines, m.st.Paint(m.st.Title, fmt.Sprintf("%-14s", label))+" "+value)
	}
	add("host", termtext.Visible(r.node.Name))
	add("address", r.addr)
	add("tags", orDash(r.tags))
	add("state", r.stateWord())
	if r.readErr != nil {
		for i, l := range strings.Split(strings.TrimSpace(r.readErr.Error()), "\n") {
			label := ""
			if i == 0 {
				label = "error"
			}
			add(label, termtext.Visible(l))
		}
	}
	if s := r.state; s != nil {
		add("generation", orDash(r.generation()))
		add("running", orDash(termtext.Visible(s.Current)))
		add("booted", orDash(termtext.Visible(s.Booted)))
		add("profile", orDash(termtext.Visible(s.Profile)))
		add("reboot", r.reboot())
		add("nixdeck lock", s.NixdeckLock.String())
		add("switch lock", s.SwitchLock.String())
		add("uptime", s.Uptime.Round(time.Minute).String())
	}
	add("built", orDash(termtext.Visible(r.built)))
	add("drift", r.drift())
	if r.buildErr != nil {
		add("build error", cause(r.node.Name, r.buildErr))
	}
	if r.last != nil {
		add("last outcome", r.lastWhen(m.cfg.Now())+" ("+r.last.at.Local().Format(time.DateTime)+")")
		if r.last.cause != "" {
			add("cause", termtext.Visible(r.last.cause))
		}
	}
	return strings.Join(lines, "\n")
}

// orDash shows an empty value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
