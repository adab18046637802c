package keys

import (
	"reflect"
	"testing"

	"charm.land/bubbles/v2/key"
)

// The help screen is generated from Groups: every binding of the map is
// listed there exactly once, with its keys and a description, so a key
// added to Map and forgotten in Groups fails here.
func TestGroupsListEveryBinding(t *testing.T) {
	m := Default()
	listed := map[string]int{}
	for _, g := range m.Groups() {
		if g.Title == "" || len(g.Keys) == 0 {
			t.Errorf("group %q is empty or untitled", g.Title)
		}
		for _, b := range g.Keys {
			listed[b.Help().Key+" "+b.Help().Desc]++
		}
	}
	v := reflect.ValueOf(m)
	for i := range v.NumField() {
		b := v.Field(i).Interface().(key.Binding)
		name := v.Type().Field(i).Name
		if len(b.Keys()) == 0 || b.Help().Key == "" || b.Help().Desc == "" {
			t.Errorf("%s has no keys or no help", name)
		}
		if n := listed[b.Help().Key+" "+b.Help().Desc]; n != 1 {
			t.Errorf("%s (%s) is listed %d times in Groups, want once", name, b.Help().Key, n)
		}
	}
}
