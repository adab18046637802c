package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"nixdeck/fleet"
)

// writeBuilders prints the builders (or that there are none) and the
// binary cache, for check's summary. The secret key's path is shown, never
// its content.
func writeBuilders(w io.Writer, f *fleet.Fleet) {
	if len(f.Builders) == 0 {
		fmt.Fprintln(w, "\nbuilders\tnone")
	} else {
		fmt.Fprintln(w, "\nBUILDER\tHOST\tUSER\tPORT\tSYSTEMS\tMAX_JOBS")
	}
	for _, b := range f.Builders {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", b.Name, b.Host, orDash(b.User),
			orDash(portString(b.Port)), strings.Join(b.Systems, ","), b.MaxJobs)
	}
	c := f.Cache
	if c == nil {
		fmt.Fprintln(w, "\ncache\tnone")
		return
	}
	push := "push none"
	if c.Push != "" {
		push = "push " + c.Push + ", unsigned"
		if c.SignKey != "" {
			push = fmt.Sprintf("push %s, signed with %s", c.Push, c.SignKey)
		}
	}
	pull := "substituter none"
	if c.Substituter != "" {
		pull = fmt.Sprintf("substituter %s, trusted key %s", c.Substituter, c.KeyName())
	}
	fmt.Fprintf(w, "\ncache\t%s\n\t%s\n", push, pull)
}

// signKeyWarning warns when the cache's secret key is missing here, or
// readable by other users: whoever reads it can sign paths every target
// trusts. "" when there is no key or it is private.
func signKeyWarning(c *fleet.Cache) string {
	if c == nil || c.SignKey == "" {
		return ""
	}
	st, err := os.Stat(c.SignKey)
	if os.IsNotExist(err) {
		return fmt.Sprintf("sign_key %s does not exist: a deploy from here pushes nothing to the cache", c.SignKey)
	}
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("sign_key %s is readable by other users (mode %04o), who could sign paths every target trusts: chmod 600 it", c.SignKey, st.Mode().Perm())
}
