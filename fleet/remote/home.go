package remote

import (
	"fmt"
	"os"
	"path/filepath"
)

// HomeDir is the operator's home directory, where ~/.ssh (keys,
// known_hosts, config) lives: $HOME, which must be set and absolute.
// Unlike a bare filepath.Join(os.Getenv("HOME"), ".ssh/known_hosts"), it
// never yields a path relative to the working directory: without $HOME
// the caller gets an error saying so and must name the file itself. Unlike
// OpenSSH it does not fall back to the passwd entry, so that what nixdeck
// reads is what the environment says.
func HomeDir() (string, error) {
	h := os.Getenv("HOME")
	switch {
	case h == "":
		return "", fmt.Errorf("$HOME is not set")
	case !filepath.IsAbs(h):
		return "", fmt.Errorf("$HOME (%q) is not an absolute path", h)
	}
	return filepath.Clean(h), nil
}
