package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"nixdeck/internal/tail"
	"nixdeck/nix"
)

// healthRetry is the wait before the next attempt of a failing check:
// growing from 250 ms, never above 2 s, so a host that turns healthy is
// seen soon and a sick one is not hammered.
func healthRetry(attempt int) time.Duration {
	return min(250*time.Millisecond<<min(attempt, 4), 2*time.Second)
}

// untilHealthy runs the policy's checks on h in order, each retried
// until it passes or its timeout ends.
func (r *run) untilHealthy(ctx context.Context, h *HostRun) error {
	for _, c := range r.p.Policy.Health {
		if err := r.retryCheck(ctx, h, c); err != nil {
			return err
		}
	}
	return nil
}

// retryCheck runs c until it passes or c.Timeout ends, reporting the
// first failure and the pass as "health" log lines.
func (r *run) retryCheck(ctx context.Context, h *HostRun, c HealthCheck) error {
	timeout := checkTimeout(c)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	log := h.Log("health")
	var last error
	for attempt := 0; ; attempt++ {
		err := r.steps.check(cctx, h, c)
		if err == nil {
			log(fmt.Sprintf("check %s passed (attempt %d)", c.Name, attempt+1))
			return nil
		}
		// An attempt cut short by the deadline says less than the one
		// before it did.
		if last == nil || cctx.Err() == nil {
			last = err
		}
		if attempt == 0 {
			log(shortCause(fmt.Sprintf("check %s failing, retrying for up to %s", c.Name, timeout), err))
		}
		select {
		case <-cctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("check %s: %w", c.Name, ctx.Err())
			}
			return fmt.Errorf("check %s: not healthy within %s: %w", c.Name, timeout, last)
		case <-r.after(healthRetry(attempt)):
		}
	}
}

// recheck runs every check once, each bounded by its timeout: at the end
// of a soak a host must be healthy, not become so.
func (r *run) recheck(ctx context.Context, h *HostRun) error {
	for _, c := range r.p.Policy.Health {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout(c))
		err := r.steps.check(cctx, h, c)
		cancel()
		if err != nil {
			return fmt.Errorf("check %s: %w", c.Name, err)
		}
	}
	return nil
}

func checkTimeout(c HealthCheck) time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultHealthTimeout
}

// maxCheckOutput bounds what a `run` check may print: it is only read
// for the last line of a failure.
const maxCheckOutput = 64 << 10

// runCheck runs a `run` check on the host as the login user (exit 0 is
// healthy); a failure says how it exited and the last line it printed.
func runCheck(ctx context.Context, r nix.Runner, c HealthCheck) error {
	out := tail.NewBuffer(512)
	err := r.Run(ctx, nix.Cmd{Argv: []string{"sh", "-c", c.Run}, Stdout: out, Stderr: out, MaxOutput: maxCheckOutput})
	var ee *nix.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	msg := fmt.Sprintf("exit status %d", ee.Code)
	if ee.Signal != "" {
		msg = "killed by signal " + ee.Signal
	}
	if l := strings.TrimSpace(tail.LastLines(out.String(), 1)); l != "" {
		msg += ": " + l
	}
	return errors.New(msg)
}

// healthClient makes the `http` checks' requests: a redirect is an
// answer like any other (its status is compared, never followed off to
// another host), and the headers a host may send are bounded.
var healthClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport: func() http.RoundTripper {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxResponseHeaderBytes = 64 << 10
		return t
	}(),
}

// maxCheckBody bounds the response body read (and thrown away) so that
// the connection can be reused.
const maxCheckBody = 64 << 10

// httpCheck GETs url from this machine and wants the status expect.
func httpCheck(ctx context.Context, url string, expect int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := healthClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxCheckBody))
	if resp.StatusCode != expect {
		return fmt.Errorf("GET %s: status %d, want %d", url, resp.StatusCode, expect)
	}
	return nil
}
