package api

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Kuma's built-in users and groups.
const (
	AdminUser          = "mesh-system:admin"
	AdminGroup         = "mesh-system:admin"
	AnonymousUser      = "mesh-system:anonymous"
	UnauthenticatedGrp = "mesh-system:unauthenticated"
	AuthenticatedGroup = "mesh-system:authenticated"
)

// User is who a request acts for.
type User struct {
	Name   string
	Groups []string
}

// Admin reports whether the user has admin access: Kuma's static access gives it to the user
// and the group mesh-system:admin.
func (u User) Admin() bool { return u.Name == AdminUser || slices.Contains(u.Groups, AdminGroup) }

// UserTokens verifies a user token (kumactl's --auth-type=tokens) into its user.
type UserTokens func(token string) (User, error)

// SetUserTokens turns on user token authentication; call it before Start.
func (s *Server) SetUserTokens(v UserTokens) { s.userTokens = v }

type userKey struct{}

// UserFrom returns the user a request acts for (the anonymous user outside the API).
func UserFrom(ctx context.Context) User {
	if u, ok := ctx.Value(userKey{}).(User); ok {
		return u
	}
	return User{Name: AnonymousUser, Groups: []string{UnauthenticatedGrp}}
}

// authenticate finds the request's user as Kuma does: a direct request from this machine is
// the admin (unless apiServer.authn.localhostIsAdmin is off), a Bearer token is checked as a
// user token, anything else is anonymous. A token that does not verify is refused (401).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := UserFrom(r.Context())
		switch tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); {
		case s.cfg.LocalhostIsAdmin && directLoopback(r):
			u = User{Name: AdminUser, Groups: []string{AdminGroup, AuthenticatedGroup}}
		case ok && s.userTokens != nil:
			verified, err := s.userTokens(strings.TrimSpace(tok))
			if err != nil {
				s.log.Info("API authentication rejected", "reason", err.Error(), "remote", r.RemoteAddr)
				writeError(w, &apiError{Status: http.StatusUnauthorized, Title: "Unauthenticated",
					Detail: "Invalid authentication data"})
				return
			}
			u = User{Name: verified.Name, Groups: append(slices.Clone(verified.Groups), AuthenticatedGroup)}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

// authorize applies the access rules: a caller from elsewhere needs a user token for
// anything but GET / (Kuma would let it read); secrets (Secret, GlobalSecret) and issuing
// tokens are for admins only, as in Kuma's static access; writes need an admin too (Kuma's
// open-source edition lets any caller write other resources, jetmesh keeps non-admins
// read-only).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	u := UserFrom(r.Context())
	if u.Admin() {
		return true
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	var denied string
	switch {
	case u.Name == AnonymousUser && path == "" && r.Method == http.MethodGet:
		return true // the version check kumactl makes before anything else
	case u.Name == AnonymousUser:
		denied = "use the API from elsewhere without a user token"
	case strings.HasPrefix(path, "/tokens"):
		denied = "generate tokens"
	case isSecretPath(path):
		denied = "access secrets"
	case r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions:
		denied = "change resources"
	default:
		return true
	}
	status := http.StatusForbidden
	if u.Name == AnonymousUser {
		status = http.StatusUnauthorized // a user token would help
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	detail := "user \"" + u.Name + "\" cannot " + denied + ": admin access is required (a user token of group " + AdminGroup + ")"
	if u.Name == AnonymousUser {
		detail = "a user token is required (kumactl generate user-token, sent as Authorization: Bearer)"
	}
	writeError(w, &apiError{Status: status, Title: "Access Denied", Detail: detail})
	return false
}

func isSecretPath(path string) bool {
	segs := splitPath(path)
	return (len(segs) >= 1 && segs[0] == "globalsecrets") || (len(segs) >= 3 && segs[0] == "meshes" && segs[2] == "secrets")
}

// directLoopback is a request made on this machine and for it: from a loopback address,
// naming a loopback host, not relayed by a proxy and not sent by a browser on behalf of
// another site (so a web page cannot borrow localhost's admin access).
func directLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || !loopbackHost(host) {
		return false
	}
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	if reqHost, _, err := net.SplitHostPort(r.Host); err == nil {
		if !loopbackHost(reqHost) {
			return false
		}
	} else if !loopbackHost(r.Host) {
		return false
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

func loopbackHost(h string) bool {
	h = strings.Trim(strings.ToLower(strings.TrimSuffix(h, ".")), "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
