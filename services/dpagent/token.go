package dpagent

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// prepareToken does what kuma-dp does with the token: a --dataplane-token is written to
// <workdir>/<name> (so the control plane can be told its path), and the token file must hold
// one JWT.
func (c *Config) prepareToken(workdir string) error {
	if c.Token != "" {
		path := filepath.Join(workdir, c.Name)
		if err := os.WriteFile(path, []byte(c.Token), 0o600); err != nil {
			return fmt.Errorf("--dataplane-token: %w", err)
		}
		c.TokenPath = path
	}
	if c.TokenPath == "" {
		return nil
	}
	raw, err := os.ReadFile(c.TokenPath)
	if err != nil {
		return fmt.Errorf("--dataplane-token-file: %w", err)
	}
	if err := checkJWT(strings.TrimSpace(string(raw))); err != nil {
		return fmt.Errorf("--dataplane-token-file %s: %w; start the proxy with a token from 'kumactl generate dataplane-token'", c.TokenPath, err)
	}
	return nil
}

// checkJWT checks the token's shape (it cannot verify the signature).
func checkJWT(token string) error {
	switch {
	case token == "":
		return errors.New("the token is empty")
	case strings.ContainsAny(token, "\x00\r\n"):
		return errors.New("the token must not contain line breaks")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("not a JWT (want three dot-separated parts)")
	}
	header, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[0], "="))
	var h map[string]any
	if err != nil || json.Unmarshal(header, &h) != nil {
		return errors.New("not a JWT (its header is not base64url JSON)")
	}
	return nil
}
