package sshtest

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// session serves one "exec" request and the "signal" requests after it.
// free gives the session's slot back; it is called before the channel
// closes, so a client that sees the close finds the slot free.
func (s *Server) session(nch ssh.NewChannel, free func()) {
	s.pause(s.cfg.OpenDelay)
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	defer free()
	var cmd *exec.Cmd
	exited := make(chan struct{})
	for r := range reqs {
		switch r.Type {
		case "exec":
			s.pause(s.cfg.ExecDelay)
			var p struct{ Command string }
			if ssh.Unmarshal(r.Payload, &p) != nil || cmd != nil {
				r.Reply(false, nil)
				continue
			}
			cmd = exec.Command("sh", "-c", p.Command)
			cmd.Env = append(os.Environ(), s.cfg.Env...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
			// Its own process group, so that signals reach the shell's
			// children too and no orphan keeps the output pipes open.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.WaitDelay = time.Second
			if err := cmd.Start(); err != nil {
				r.Reply(false, nil)
				return
			}
			r.Reply(true, nil)
			s.mu.Lock()
			s.pgids = append(s.pgids, cmd.Process.Pid)
			s.mu.Unlock()
			go func() {
				cmd.Wait()
				sendExit(ch, cmd.ProcessState)
				free()
				ch.Close()
				close(exited)
			}()
		case "signal":
			var p struct{ Signal string }
			if ssh.Unmarshal(r.Payload, &p) == nil && cmd != nil {
				select {
				case s.signals <- p.Signal:
				default:
				}
				if sig, ok := signalByName[p.Signal]; ok && !s.cfg.IgnoreSignals {
					syscall.Kill(-cmd.Process.Pid, sig)
				}
			}
			if r.WantReply {
				r.Reply(true, nil)
			}
		default:
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}
	if cmd != nil && !s.cfg.IgnoreSignals {
		// The client closed the channel: stop the command, as sshd does.
		select {
		case <-exited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
}

var signalByName = map[string]syscall.Signal{"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP}

// sendExit reports how the command ended, as exit-status or exit-signal.
func sendExit(ch ssh.Channel, ps *os.ProcessState) {
	if ps == nil {
		return
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Error      string
			Lang       string
		}{Signal: signalName(ws.Signal())}))
		return
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(ps.ExitCode()))
	ch.SendRequest("exit-status", false, b[:])
}

// signalName names a signal the RFC 4254 way ("TERM"), for the few the
// tests use.
func signalName(sig syscall.Signal) string {
	for name, s := range signalByName {
		if s == sig {
			return name
		}
	}
	return strconv.Itoa(int(sig))
}

// directTCPIP forwards a channel to the requested address.
func (s *Server) directTCPIP(nch ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad payload")
		return
	}
	tc, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		tc.Close()
		return
	}
	s.forwards.Add(1)
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() { io.Copy(ch, tc); ch.CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(tc, ch); tc.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
	ch.Close()
	tc.Close()
}
