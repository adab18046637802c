package fleet

// LogLine is an event of an operation as the per-host log files say it:
// a tag ("[source]" for a line of output, "#" for what nixdeck reports)
// and the text; ok is false for an event the logs leave out (progress,
// a command still running). The console shows a host's log as its file
// keeps it, from this one rendering.
func LogLine(e Event) (tag, text string, ok bool) {
	switch e := e.(type) {
	case HostOutcome:
		return "#", outcomeLine(e), true
	case DoneEvent:
		return "#", doneLine(e), true
	}
	return logLine(e)
}
