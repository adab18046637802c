package lab_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// health GETs the host's health endpoint and returns the status and body;
// status 0 means nothing answered.
func health(t *testing.T, h lab.Host) (int, string, error) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(h.HealthURL())
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), err
}

// TestHealthEndpoint checks that an activation brings a stopped health
// endpoint back on its port, and that lab down stops it.
func TestHealthEndpoint(t *testing.T) {
	l := labtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h := l.Hosts[0]
	gen1 := link(t, l, h.Name, "/run/current-system")
	// kill, then wait in the host for the server to be gone.
	stop := `pid=$(cat /run/nixdeck-lab/healthd.pid) && kill "$pid" && while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done`
	if _, err := l.Exec(ctx, h.Name, []string{"sh", "-c", stop}, nil); err != nil {
		t.Fatal(err)
	}
	if code, _, err := health(t, h); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("health endpoint stopped: %d, %v; want connection refused", code, err)
	}
	if out, code := activate(ctx, t, l, h.Name, gen1, "test"); code != 0 {
		t.Fatalf("activation: exit %d:\n%s", code, out)
	}
	if code, body, err := health(t, h); code != 200 || !strings.HasPrefix(body, "running ") {
		t.Errorf("health after the activation: %d %q %v", code, body, err)
	}
	if resp, err := http.Post(h.HealthURL(), "text/plain", strings.NewReader("x")); err != nil || resp.StatusCode != 405 {
		t.Errorf("POST: %v %v; want 405", resp, err)
	} else {
		resp.Body.Close()
	}
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _, err := health(t, h); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("health endpoint after lab down: %d, %v; want connection refused", code, err)
	}
}
