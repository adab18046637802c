package remote

import "testing"

// SetQuickAck turns the quick acknowledgements of quickack.go on or off
// for connections dialled from now on, until the benchmark or test ends.
func SetQuickAck(tb testing.TB, on bool) {
	quickAck = on
	tb.Cleanup(func() { quickAck = true })
}
