package controlplane

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/jetmesh/jetmesh/services/api"
	"github.com/jetmesh/jetmesh/services/manager"
	"github.com/jetmesh/jetmesh/services/tokens"
)

// userTokenRequest is POST /tokens/user's body (kumactl generate user-token).
type userTokenRequest struct {
	Name     string   `json:"name"`
	Groups   []string `json:"groups"`
	ValidFor string   `json:"validFor"`
}

// startUserTokens turns on API authentication with user tokens: POST /tokens/user issues
// them (admins only, see api.Server.authorize), every API request with a Bearer token is
// checked against the GlobalSecrets user-token-signing-key-<n> and user-token-revocations. The
// standalone or global control plane creates the first key with the first token; a federated
// zone checks tokens with the keys replicated from the global.
func startUserTokens(cfg Config, m *manager.Manager, a *api.Server, keys *keyrings) {
	a.SetUserTokens(func(token string) (api.User, error) {
		s, err := keys.user()
		if err != nil {
			return api.User{}, err
		}
		c, err := s.VerifyUser(token)
		if err != nil {
			return api.User{}, err
		}
		return api.User{Name: c.Name, Groups: c.Groups}, nil
	})
	var mu sync.Mutex // one first key, even when two tokens are asked for at once
	a.Handle("/tokens/user", tokenHandler(func(req *userTokenRequest) string { return req.ValidFor },
		func(ctx context.Context, req *userTokenRequest, validFor time.Duration) (string, int, error) {
			mu.Lock()
			defer mu.Unlock()
			s, err := keys.user()
			if none := (*errNoKey)(nil); errors.As(err, &none) {
				if cfg.Federated() {
					return "", http.StatusBadRequest, errors.New("user tokens are issued by the global control plane")
				}
				if err := keys.ensureGlobalKey(ctx, m, tokens.UserSigningKeyPrefix, tokens.UserPublicKeyPrefix); err != nil {
					return "", http.StatusInternalServerError, err
				}
				s, err = keys.user()
			}
			if err != nil {
				return "", http.StatusInternalServerError, err
			}
			tok, err := s.IssueUser(req.Name, req.Groups, validFor)
			return tok, http.StatusBadRequest, err
		}))
}
