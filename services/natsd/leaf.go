package natsd

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// LeafListen makes the server a leafnode hub: the global control plane accepts zone links
// here. Every link is authenticated by Authenticate; there is no anonymous leafnode.
type LeafListen struct {
	Host string
	// Port of the leafnode listener; RandomPort (-1) picks a free one.
	Port int
	// TLS is required: zone links cross networks.
	TLS *tls.Config
	// Authenticate checks a link's credentials (user and password from its CONNECT) and
	// returns what the link may do, or an error saying why it is refused. Called for every
	// (re)connect, so revoking credentials takes effect on the next connect.
	Authenticate func(user, password string) (LeafGrant, error)
	// OnRefused is told about refused links (for logs and tests); may be nil.
	OnRefused func(user string, err error)
}

// LeafGrant is what an authenticated leafnode link may do.
type LeafGrant struct {
	// Subjects the link may carry, in either direction. Everything else is neither forwarded
	// to the hub nor delivered from it; in particular a zone's link lists no event subject,
	// so nothing a zone publishes can land in a global stream.
	Subjects []string
	// Expires disconnects the link at this time (its credentials' expiry); zero for never.
	Expires time.Time
}

// LeafRemote is an outgoing leafnode link: a zone control plane's server joining the global.
type LeafRemote struct {
	// URL of the hub's leafnode listener, e.g. tls://global.example:5685.
	URL      *url.URL
	Username string
	Password string
	TLS      *tls.Config
}

// internalUser is the user of the control plane's own in-process connections when the server
// authenticates (a hub): a random password per process, never written anywhere.
const internalUser = "jetmesh-internal"

// authenticator is the server's custom authentication on a hub: the control plane's own
// connections with the per-process password, leafnodes through LeafListen.Authenticate.
type authenticator struct {
	password string
	leaf     *LeafListen

	mu    sync.Mutex
	links map[uint64]leafLink // by connection id, pruned when seen disconnected
}

type leafLink struct {
	user  string
	conn  server.ClientAuthentication
	perms *server.Permissions
}

// Check implements server.Authentication.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	opts := c.GetOpts()
	switch c.Kind() {
	case server.CLIENT:
		return opts.Username == internalUser &&
			subtle.ConstantTimeCompare([]byte(opts.Password), []byte(a.password)) == 1
	case server.LEAF:
		grant, err := a.leaf.Authenticate(opts.Username, opts.Password)
		if err != nil {
			if a.leaf.OnRefused != nil {
				a.leaf.OnRefused(opts.Username, err)
			}
			return false
		}
		// nats-server applies leafnode permissions on both servers and swaps publish and
		// subscribe between them; one list for both directions keeps that out of the way.
		perms := &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: grant.Subjects},
			Subscribe: &server.SubjectPermission{Allow: grant.Subjects},
		}
		c.RegisterUser(&server.User{Username: opts.Username, Permissions: perms,
			ConnectionDeadline: grant.Expires})
		a.mu.Lock()
		a.links[c.GetID()] = leafLink{user: opts.Username, conn: c, perms: perms}
		a.mu.Unlock()
		return true
	}
	return false
}

func randomSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the kernel's CSPRNG does not fail
	}
	return hex.EncodeToString(b)
}

func (l *LeafListen) validate() error {
	var errs []error
	if l.Host == "" {
		errs = append(errs, errors.New("leafnode host is required"))
	}
	if l.Port == 0 || l.Port < RandomPort || l.Port > 65535 {
		errs = append(errs, fmt.Errorf("leafnode port %d out of range (1-65535, or -1)", l.Port))
	}
	if l.TLS == nil {
		errs = append(errs, errors.New("leafnode listener needs TLS"))
	}
	if l.Authenticate == nil {
		errs = append(errs, errors.New("leafnode listener needs an authenticator"))
	}
	return errors.Join(errs...)
}

func (r LeafRemote) validate() error {
	if r.URL == nil || r.URL.Host == "" {
		return errors.New("leafnode remote needs a URL with a host")
	}
	return nil
}

// leafOptions fills the leafnode part of nats-server's options.
func (c Config) leafOptions(opts *server.Options) {
	if l := c.Leaf; l != nil {
		port := l.Port
		if port == RandomPort {
			port = server.RANDOM_PORT
		}
		opts.LeafNode.Host, opts.LeafNode.Port = l.Host, port
		opts.LeafNode.TLSConfig = l.TLS
		opts.LeafNode.TLSTimeout = 5
	}
	for _, r := range c.Remotes {
		u := *r.URL
		if r.Username != "" {
			u.User = url.UserPassword(r.Username, r.Password)
		}
		// A zone keeps retrying its link forever (every LeafNode.ReconnectInterval, 1s): the
		// global being away is a normal state (seed "Failure modes"), not a fatal error.
		remote := &server.RemoteLeafOpts{URLs: []*url.URL{&u}}
		if r.TLS != nil {
			remote.TLS = true
			remote.TLSConfig = r.TLS
			remote.TLSTimeout = 5
		}
		opts.LeafNode.Remotes = append(opts.LeafNode.Remotes, remote)
	}
}

// LeafLinks returns the users (zone names) of the leafnode links connected to this hub.
func (s *Server) LeafLinks() (map[string]bool, error) {
	out := map[string]bool{}
	if s.auth == nil {
		return out, nil
	}
	lz, err := s.srv.Leafz(&server.LeafzOptions{})
	if err != nil {
		return nil, fmt.Errorf("leafnode status: %w", err)
	}
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	for _, l := range lz.Leafs {
		if link, ok := s.auth.links[l.ID]; ok {
			out[link.user] = true
		}
	}
	return out, nil
}

// KickLeaf disconnects every link of user, e.g. a zone that was just disabled; whether it may
// come back is Authenticate's decision on its next connect.
func (s *Server) KickLeaf(user string) {
	if s.auth == nil {
		return
	}
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	for id, link := range s.auth.links {
		if link.user != user {
			continue
		}
		// nats-server has no public "close this connection"; an expired connection deadline
		// closes it through the server's own path.
		link.conn.RegisterUser(&server.User{Username: user, Permissions: link.perms,
			ConnectionDeadline: time.Now()})
		delete(s.auth.links, id)
	}
}

// LeafPort is the leafnode listener's port (resolved when configured random), or 0.
func (s *Server) LeafPort() int {
	if s.cfg.Leaf == nil {
		return 0
	}
	return s.cfg.Leaf.Port
}

// freePort asks the kernel for a free loopback-or-host port. nats-server does not expose the
// port it picked for a random leafnode listener, so the server picks one first.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("pick leafnode port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
