package remote

import (
	"fmt"
	"time"
)

// keepaliveRequest is OpenSSH's keepalive global request; any reply, even
// a refusal, proves the peer is alive.
const keepaliveRequest = "keepalive@openssh.com"

// watch marks the client dead when the transport ends for any reason.
func (c *Client) watch() {
	err := c.conn.Wait()
	c.shutdown(c.ep.lostError("", fmt.Sprint(err)))
}

// keepalive sends a keepalive every interval and closes the connection
// when KeepAliveMaxMissed of them in a row went unanswered.
func (c *Client) keepalive() {
	interval, maxMissed := c.opts.KeepAliveInterval, c.opts.KeepAliveMaxMissed
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	replies := make(chan error, 1)
	pending, missed := false, 0
	for {
		select {
		case <-c.done:
			return
		case err := <-replies:
			pending = false
			if err != nil {
				return // the transport is gone; watch reports it
			}
			missed = 0
		case <-ticker.C:
			if pending {
				missed++
				if missed >= maxMissed {
					c.shutdown(c.ep.lostError("", fmt.Sprintf("no reply to %d keepalives sent every %v", missed, interval)))
					return
				}
				continue
			}
			pending = true
			go func() {
				_, _, err := c.conn.SendRequest(keepaliveRequest, true, nil)
				replies <- err
			}()
		}
	}
}
