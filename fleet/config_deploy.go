package fleet

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// HealthCheck is one entry of deploy.health: a command run on the host
// (exit 0 = healthy) or an HTTP request made from the console.
type HealthCheck struct {
	// Name identifies the check in the console and in errors.
	Name string
	// Run is a shell command run on the host; exactly one of Run and HTTP is set.
	Run string
	// HTTP is a URL in which {host}, {name} and {vars.NAME} expand; see URL.
	HTTP string
	// Expect is the HTTP status that means healthy (default 200).
	Expect int
	// Timeout bounds one run of the check (default DefaultHealthTimeout).
	Timeout time.Duration
}

// URL is the check's HTTP URL for node n: {host}, {name} and the node's
// {vars.NAME} expanded. Load has checked that every node sets the
// variables the URL names.
func (h HealthCheck) URL(n *Node) string {
	return strings.NewReplacer("{host}", n.Host, "{name}", n.Name).Replace(expandVars(h.HTTP, n))
}

// deploy decodes the `deploy` section over the defaults already in dp. It
// returns where each canary selector was written so that Load can check each selector
// once the nodes are known.
func (d *decoder) deploy(v *yaml.Node, path string, dp *Deploy) (canary []selectorAt) {
	// Counts beyond any fleet, yet far from overflowing anything.
	const huge = 1 << 20
	hosts := func(lo int) string { return fmt.Sprintf("a host count (%d-%d)", lo, huge) }
	d.fields(v, path, map[string]field{
		"action": func(v *yaml.Node, key string) {
			assign(&dp.Action)(d.enum(v, key, ActionSwitch, ActionBoot, ActionTest, ActionDryActivate))
		},
		"parallel": func(v *yaml.Node, key string) {
			assign(&dp.Parallel)(d.integer(v, key, 1, huge, hosts(1)))
		},
		"canary": func(v *yaml.Node, key string) {
			dp.Canary, canary = d.selectors(v, key)
		},
		"batch": func(v *yaml.Node, key string) {
			assign(&dp.Batch)(d.batch(v, key))
		},
		"max_failures": func(v *yaml.Node, key string) {
			assign(&dp.MaxFailures)(d.integer(v, key, 0, huge, hosts(0)))
		},
		"on_failure": func(v *yaml.Node, key string) {
			assign(&dp.OnFailure)(d.enum(v, key, OnFailureHalt, OnFailureRollbackFailed, OnFailureRollbackAll))
		},
		"soak":               func(v *yaml.Node, key string) { assign(&dp.Soak)(d.duration(v, key, 0)) },
		"confirm_timeout":    func(v *yaml.Node, key string) { assign(&dp.ConfirmTimeout)(d.duration(v, key, time.Second)) },
		"activation_timeout": func(v *yaml.Node, key string) { assign(&dp.ActivationTimeout)(d.duration(v, key, time.Second)) },
		"magic_rollback": func(v *yaml.Node, key string) {
			assign(&dp.MagicRollback)(d.boolean(v, key))
		},
		"health": func(v *yaml.Node, key string) { dp.Health = d.health(v, key) },
	})
	return canary
}

// selectorAt is where one deploy.canary selector was written, for errors
// found once the nodes are known.
type selectorAt struct {
	v   *yaml.Node
	key string
}

// selectors decodes deploy.canary: a list of selector expressions, or one
// expression as a plain string. Elements must not be empty.
func (d *decoder) selectors(v *yaml.Node, key string) ([]string, []selectorAt) {
	exprs, nodes, ok := d.strList(v, key, true)
	if !ok {
		return nil, nil
	}
	at := make([]selectorAt, len(exprs))
	for i, e := range exprs {
		at[i] = selectorAt{nodes[i], key}
		if v.Kind == yaml.SequenceNode {
			at[i].key = fmt.Sprintf("%s[%d]", key, i)
		}
		if strings.TrimSpace(e) == "" {
			d.errorf(nodes[i], at[i].key, "empty selector")
			return nil, nil
		}
	}
	return exprs, at
}

// health decodes the list of health checks.
func (d *decoder) health(v *yaml.Node, path string) []HealthCheck {
	if v.Kind != yaml.SequenceNode {
		d.errorf(v, path, "expected a list of checks, got %s", describe(v))
		return nil
	}
	var out []HealthCheck
	names := map[string]int{}
	for i, e := range v.Content {
		e = deref(e)
		key := fmt.Sprintf("%s[%d]", path, i)
		h, ok := d.check(e, key)
		if !ok {
			continue
		}
		if line, dup := names[h.Name]; dup {
			d.errorf(e, key+".name", "duplicate check name %q (first at line %d)", h.Name, line)
			continue
		}
		names[h.Name] = e.Line
		out = append(out, h)
	}
	return out
}

// placeholderRE finds {word} placeholders in health check URLs.
var placeholderRE = regexp.MustCompile(`\{[^{}]*\}`)

// check decodes one health check: a name and exactly one of run and http.
func (d *decoder) check(v *yaml.Node, key string) (HealthCheck, bool) {
	h := HealthCheck{Timeout: DefaultHealthTimeout}
	var expect *yaml.Node
	nameBad := false // a name was given but is not one: no "missing" error too
	before := len(d.errs)
	isMap := d.fields(v, key, map[string]field{
		"name": func(v *yaml.Node, key string) {
			var ok bool
			h.Name, ok = d.str(v, key)
			nameBad = !ok
		},
		"run":  func(v *yaml.Node, key string) { h.Run, _ = d.text(v, key, "\t\n") },
		"http": func(v *yaml.Node, key string) { h.HTTP, _ = d.checkURL(v, key) },
		"expect": func(v *yaml.Node, key string) {
			expect = v
			h.Expect, _ = d.integer(v, key, 100, 599, "an HTTP status (100-599)")
		},
		"timeout": func(v *yaml.Node, key string) {
			assign(&h.Timeout)(d.duration(v, key, time.Millisecond))
		},
	})
	if !isMap {
		return h, false
	}
	if h.Name == "" && !nameBad {
		d.errorf(v, key+".name", "missing: every check needs a name")
	}
	switch {
	case h.Run == "" && h.HTTP == "" && len(d.errs) == before:
		d.errorf(v, key, "set run (a command on the host) or http (a URL)")
	case h.Run != "" && h.HTTP != "":
		d.errorf(v, key, "run and http exclude each other; set only one")
	case h.Run != "" && expect != nil:
		d.errorf(expect, key+".expect", "only http checks have an expected status")
	}
	if h.HTTP != "" && h.Expect == 0 {
		h.Expect = 200
	}
	return h, len(d.errs) == before
}

// checkURL decodes an http(s) URL that may hold {host}, {name} and
// {vars.NAME}.
func (d *decoder) checkURL(v *yaml.Node, key string) (string, bool) {
	s, ok := d.str(v, key)
	if !ok {
		return "", false
	}
	var uses []varUse
	for _, p := range placeholderRE.FindAllString(s, -1) {
		if p == "{host}" || p == "{name}" {
			continue
		}
		name, err := placeholderVar(p)
		if err != nil {
			d.errorf(v, key, "%v", err)
			return "", false
		}
		uses = append(uses, varUse{name: name, v: v, key: key})
	}
	// "0" is valid wherever a placeholder may stand: host, port, path.
	u, err := url.Parse(placeholderRE.ReplaceAllString(s, "0"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.errorf(v, key, "%q is not an http:// or https:// URL", s)
		return "", false
	}
	d.varUses = append(d.varUses, uses...)
	return s, true
}
