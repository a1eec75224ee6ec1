package tokens

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// User token keys and revocations, as Kuma names them (GlobalSecrets).
const (
	UserSigningKeyPrefix = "user-token-signing-key"
	UserRevocations      = "user-token-revocations"
)

// UserClaims are a user token's claims (kumactl generate user-token), in Kuma's JSON names.
type UserClaims struct {
	Name   string   `json:"Name"`
	Groups []string `json:"Groups"`
	jwt.RegisteredClaims
}

// ErrInvalidUserToken wraps every reason a user token is refused.
var ErrInvalidUserToken = errors.New("invalid user token")

// IssueUser returns a token for a user and its groups, valid for validFor (0: no expiry).
func (s *Signer) IssueUser(name string, groups []string, validFor time.Duration) (string, error) {
	if name == "" {
		return "", errors.New("user token: name is required")
	}
	c := UserClaims{Name: name, Groups: groups}
	if c.Groups == nil {
		c.Groups = []string{}
	}
	return s.sign(&c, &c.RegisteredClaims, validFor, "user token")
}

// VerifyUser checks a user token and returns its claims.
func (s *Signer) VerifyUser(token string) (UserClaims, error) {
	var c UserClaims
	if err := s.parse(token, &c, &c.RegisteredClaims); err != nil {
		return UserClaims{}, fmt.Errorf("%w: %w", ErrInvalidUserToken, err)
	}
	if c.Name == "" {
		return UserClaims{}, fmt.Errorf("%w: no name", ErrInvalidUserToken)
	}
	return c, nil
}
