package tokens

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
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
	now := s.now()
	c := UserClaims{Name: name, Groups: groups, RegisteredClaims: jwt.RegisteredClaims{
		ID: uuid.NewString(), IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Minute))}}
	if c.Groups == nil {
		c.Groups = []string{}
	}
	if validFor > 0 {
		c.ExpiresAt = jwt.NewNumericDate(now.Add(validFor))
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = strconv.Itoa(s.serial)
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("user token: sign: %w", err)
	}
	return signed, nil
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
