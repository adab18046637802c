package fleet

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// stamp matches the time at the start of a log line.
var stamp = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d) `)

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return stamp.ReplaceAllString(string(b), "T ")
}

// A host that writes without end fills its log up to the bound, then one
// note says the rest was not kept.
func TestHostLogBound(t *testing.T) {
	l, err := newHostLogs(t.TempDir(), "deploy-1")
	if err != nil {
		t.Fatal(err)
	}
	defer l.closeAll()
	line := strings.Repeat("y", maxLogLine)
	for i := 0; i < maxHostLog/maxLogLine+10; i++ {
		if err := l.write("web01", time.Now(), "[activate]", line); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(l.path("web01"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > maxHostLog+200 {
		t.Errorf("log of %d bytes, bound %d", st.Size(), maxHostLog)
	}
	b, _ := os.ReadFile(l.path("web01"))
	if !strings.HasSuffix(string(b), "# log cut: it reached 64 MiB; the rest of this host's output is not kept\n") {
		t.Errorf("log ends %q", b[len(b)-100:])
	}
}

// Names that are not node names or operation ids never name a file.
func TestHostLogNames(t *testing.T) {
	dir := t.TempDir()
	if _, err := newHostLogs(dir, "../x"); err == nil {
		t.Error("operation id ../x accepted")
	}
	l, err := newHostLogs(dir, "deploy-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.write("../../evil", time.Now(), "#", "x"); err == nil {
		t.Error("host ../../evil accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "evil.log")); err == nil {
		t.Error("evil.log written")
	}
}
