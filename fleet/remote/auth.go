package remote

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keySource gathers the signers offered for public-key authentication:
// the identity files' keys first, then the ssh-agent's other keys.
type keySource struct {
	signers []ssh.Signer
	agent   net.Conn // closed by close once the handshake is over
	notes   []string // why sources were skipped, for the "no keys" error
}

// loadKeys connects to $SSH_AUTH_SOCK (when set) and reads the endpoint's
// identity files. An identity file named by the fleet file or ssh_config
// that cannot be used is an error; missing default files are skipped.
//
// The identity files' keys are offered first, as OpenSSH does: sshd
// counts every key offered against MaxAuthTries (6), so behind six other
// agent keys the configured one would never be tried ("Too many
// authentication failures"). An encrypted identity file is used through
// the agent's copy of it, found by its .pub file.
func loadKeys(e endpoint) (*keySource, error) {
	ks := &keySource{}
	var agentSigners []ssh.Signer
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			ks.notes = append(ks.notes, fmt.Sprintf("ssh-agent %s: %v", sock, err))
		} else {
			ks.agent = conn
			agentSigners, err = agent.NewClient(conn).Signers()
			if err != nil {
				ks.notes = append(ks.notes, fmt.Sprintf("ssh-agent: %v", err))
			}
		}
	} else {
		ks.notes = append(ks.notes, "SSH_AUTH_SOCK is not set")
	}
	if e.idNote != "" {
		ks.notes = append(ks.notes, e.idNote)
	}
	for _, f := range e.identities {
		s, err := readIdentity(f)
		switch {
		case err == nil:
			ks.add(s)
		case errors.Is(err, os.ErrNotExist) && !e.explicitID:
			continue
		case isPassphraseMissing(err) && len(agentSigners) > 0:
			// An encrypted key is usable only through the agent, which
			// may well hold it; let the server decide.
			if s := agentCopy(agentSigners, f+".pub"); s != nil {
				ks.add(s)
			}
			ks.notes = append(ks.notes, err.Error())
		default:
			ks.close()
			return nil, e.fail("auth", err)
		}
	}
	for _, s := range agentSigners {
		ks.add(s)
	}
	if len(ks.signers) == 0 {
		ks.close()
		if len(ks.notes) == 0 {
			ks.notes = append(ks.notes, "no identity file found")
		}
		return nil, e.fail("auth", fmt.Errorf("no SSH keys to offer: %v", ks.notes))
	}
	return ks, nil
}

// add appends s unless a signer for the same public key is there already.
func (ks *keySource) add(s ssh.Signer) {
	pub := s.PublicKey().Marshal()
	for _, have := range ks.signers {
		if bytes.Equal(have.PublicKey().Marshal(), pub) {
			return
		}
	}
	ks.signers = append(ks.signers, s)
}

// agentCopy returns the agent's signer for the public key in pubFile, or
// nil when the file or the key is not there.
func agentCopy(signers []ssh.Signer, pubFile string) ssh.Signer {
	data, err := os.ReadFile(pubFile)
	if err != nil {
		return nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil
	}
	for _, s := range signers {
		if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
			return s
		}
	}
	return nil
}

// readIdentity parses an unencrypted private key file.
func readIdentity(path string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	s, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		if isPassphraseMissing(err) {
			return nil, fmt.Errorf("identity file %s is encrypted; add it to ssh-agent: %w", path, err)
		}
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return s, nil
}

func isPassphraseMissing(err error) bool {
	var pm *ssh.PassphraseMissingError
	return errors.As(err, &pm)
}

// methods returns the auth methods for ssh.ClientConfig. All keys go into
// one publickey method: x/crypto tries each method name only once.
func (ks *keySource) methods() []ssh.AuthMethod {
	return []ssh.AuthMethod{ssh.PublicKeys(ks.signers...)}
}

// close releases the agent connection.
func (ks *keySource) close() {
	if ks.agent != nil {
		ks.agent.Close()
		ks.agent = nil
	}
}
