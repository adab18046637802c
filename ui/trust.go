package ui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet/remote"
	"nixdeck/internal/termtext"
)

// trustDialog asks whether to trust a host key that known_hosts does not
// have. Only y appends it; anything else leaves the host untrusted.
type trustDialog struct {
	ke *remote.HostKeyError
}

// trustedMsg says how appending a key went.
type trustedMsg struct {
	ke  *remote.HostKeyError
	err error
}

// nextTrust opens the next trust prompt waiting, unless a dialog is open.
func (m *Model) nextTrust() {
	if m.dialog != nil || len(m.trustQ) == 0 {
		return
	}
	m.dialog = &trustDialog{ke: m.trustQ[0]}
	m.trustQ = m.trustQ[1:]
	m.redraw.now()
}

func (d *trustDialog) title() string { return "Unknown host key" }

func (d *trustDialog) lines(m *Model, width int) []string {
	ke := d.ke
	who := termtext.Visible(ke.Name)
	if ke.Node != "" && ke.Node != ke.Name {
		who += " (on the way to " + termtext.Visible(ke.Node) + ")"
	}
	hk := remote.HostKey{Key: ke.Key}
	out := wrap(fmt.Sprintf("%s at %s offered a host key that %s does not have:", who, termtext.Visible(ke.Addr),
		termtext.Visible(ke.KnownHosts)), width)
	out = append(out, "", "  "+m.st.Paint(m.st.Marked, hk.Type()+" "+ke.Fingerprint), "")
	out = append(out, wrap("Trust it only if this is the host's own key: compare it with `ssh-keygen -lf` of the host's key file, read on the host itself.", width)...)
	return append(out, "", "y: append it to "+termtext.Visible(ke.KnownHosts)+" and connect · n: leave it untrusted")
}

func (d *trustDialog) update(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Yes):
		m.dialog = nil
		ke, trust := d.ke, m.cfg.Trust
		return func() tea.Msg {
			k := remote.HostKey{Name: ke.Name, Addr: ke.Addr, Key: ke.Key, Fingerprint: ke.Fingerprint, KnownHosts: ke.KnownHosts}
			return trustedMsg{ke: ke, err: trust([]remote.HostKey{k})}
		}
	case key.Matches(msg, m.keys.No):
		m.dialog = nil
		return m.say(d.ke.Name+": host key not trusted; the host stays unreachable", false)
	}
	return nil
}

func (d *trustDialog) keys(m *Model) []key.Binding {
	return []key.Binding{withHelp(m.keys.Yes, "trust"), withHelp(m.keys.No, "don't")}
}

// trusted reads the host again once its key is in known_hosts.
func (m *Model) trusted(msg trustedMsg) tea.Cmd {
	if msg.err != nil {
		m.showError("Host key not added", msg.err.Error())
		return nil
	}
	name := msg.ke.Node
	if name == "" {
		name = msg.ke.Name
	}
	say := m.say(fmt.Sprintf("%s: host key %s added to %s", name, msg.ke.Fingerprint, msg.ke.KnownHosts), false)
	m.nextTrust()
	if r := m.byName[name]; r != nil {
		return tea.Batch(say, m.refresh([]*hostRow{r}))
	}
	return say
}
