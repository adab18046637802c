package nix

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"nixdeck/internal/proc"
)

// A push puts the systems' closures in a binary cache once, with Nix's
// own `nix copy`, so that the targets fetch them from there (and each
// other's copy of the cache) rather than all from the operator. Paths
// are signed on the way when a key is given: a binary cache (file://,
// s3://, http(s)://) signs what it is sent with its `secret-key`
// setting; any other store is sent paths signed in their source store
// first (`nix store sign`). The paths come from this machine's store, or
// from a builder's (--from ssh-ng://…: the builder's outputs go to the
// cache through the operator's memory, never its store).

// PushRequest says what to push where.
type PushRequest struct {
	// To is the cache's Nix store URI (fleet file cache.push).
	To string
	// SignKey, when set, is the secret key file the paths are signed with.
	SignKey string
	// Paths are the roots; their closures are pushed.
	Paths []string
	// From, when set, is the builder whose store holds Paths; nil means
	// this machine's store.
	From *SSHSession
	// Source runs commands on the store that holds Paths (local, or the
	// builder's SSH connection): it is asked for the NAR sizes, which Nix
	// 2.8 does not report as it copies.
	Source Runner
	// Progress, when set, is called as paths reach the cache.
	Progress func(PushProgress)
}

// Push pushes the closures of req.Paths to req.To and returns how much
// went: paths Nix copied (those the cache lacked) and their NAR bytes.
// Its error names the cache and gives Nix's reason.
func Push(ctx context.Context, local Runner, req PushRequest) (PushProgress, error) {
	fail := func(err error) (PushProgress, error) {
		return PushProgress{}, fmt.Errorf("push to %s: %w", redactURI(req.To), err)
	}
	if len(req.Paths) == 0 {
		return PushProgress{}, nil
	}
	to, signFirst, err := pushURI(req.To, req.SignKey)
	if err != nil {
		return fail(err)
	}
	src := req.Source
	if src == nil {
		src = local
	}
	sizes := map[string]int64{}
	closure, err := requisitesOf(ctx, src, req.Paths)
	if err == nil {
		var infos []PathInfo
		if infos, err = PathInfos(ctx, src, closure); err == nil {
			for _, i := range infos {
				sizes[i.Path] = i.NarSize
			}
		}
	}
	if err != nil {
		return fail(err)
	}
	var from []string
	var env []string
	if req.From != nil {
		from, env = []string{"--store", req.From.Store}, req.From.Env
	}
	if signFirst {
		argv := NixCmd(append(append(append([]string{"store", "sign"}, from...), "--key-file", req.SignKey, "--recursive"), req.Paths...)...)
		if err := runNix(ctx, local, argv, env, nil); err != nil {
			return fail(fmt.Errorf("sign: %w", err))
		}
	}
	plog := newPushLog(sizes, req.Progress)
	argv := NixCmd("copy", "--log-format", "internal-json")
	if req.From != nil {
		argv = append(argv, "--from", req.From.Store)
	}
	argv = append(append(argv, "--to", to), req.Paths...)
	if err := runNix(ctx, local, argv, env, plog); err != nil {
		return fail(err)
	}
	p := plog.Progress()
	if req.Progress != nil {
		req.Progress(p)
	}
	return p, nil
}

// runNix runs a local Nix command whose failure is told by Nix's own
// error lines (from plog, or its plain stderr when plog is nil), the
// key file's path left out (Nix names it when it cannot read it).
func runNix(ctx context.Context, local Runner, argv, env []string, plog *pushLog) error {
	if plog == nil {
		plog = newPushLog(nil, nil)
	}
	lines := LineWriter(plog.line)
	err := local.Run(ctx, Cmd{Argv: argv, Stderr: lines, Env: env})
	lines.Flush()
	if err == nil {
		return nil
	}
	if r := plog.reason(); r != "" && ctx.Err() == nil {
		err = nixFailure{reason: r, err: err}
	}
	return proc.HideSecrets(err, argv)
}

// nixFailure is a failed Nix command told by Nix's own message; the
// command's error (its argv, all of its stderr) stays behind Unwrap.
type nixFailure struct {
	reason string
	err    error
}

func (e nixFailure) Error() string { return e.reason }
func (e nixFailure) Unwrap() error { return e.err }

// binaryCacheSchemes are the stores that sign what they are sent.
var binaryCacheSchemes = []string{"file://", "s3://", "http://", "https://"}

// pushURI returns the URI `nix copy --to` gets, and whether the paths
// must be signed before (a store that is not a binary cache). The key
// goes in the URI's query, which Nix splits at '&' and '=': a key path
// holding those (or '#', '?', '%', white space) would be another setting.
func pushURI(uri, key string) (string, bool, error) {
	if uri == "" || strings.ContainsAny(uri, " \t\r\n") || strings.HasPrefix(uri, "-") {
		return "", false, fmt.Errorf("bad store URI %s", excerpt(uri))
	}
	if key == "" {
		return uri, false, nil
	}
	cache := false
	for _, s := range binaryCacheSchemes {
		cache = cache || strings.HasPrefix(uri, s)
	}
	if !cache {
		return uri, true, nil
	}
	if !strings.HasPrefix(key, "/") || strings.ContainsAny(key, "&=#?% \t\r\n") {
		return "", false, errors.New("the sign key's path must be absolute, without &, =, #, ?, % or white space, to go in the store URI")
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + "secret-key=" + key, false, nil
}

// redactURI drops a store URI's query (it may name a key file or hold
// credentials) for messages.
func redactURI(uri string) string {
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return sanitizeLine(uri)
}
