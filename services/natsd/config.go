package natsd

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"time"
)

// Defaults of Config.
const (
	DefaultHost         = "127.0.0.1"
	DefaultPort         = 5690
	DefaultStartTimeout = 10 * time.Second
)

// RandomPort asks the kernel for a free port (tests, several servers on one machine).
const RandomPort = -1

// Config configures the embedded NATS server. Start from DefaultConfig: SyncAlways defaults to
// true, which a zero Config cannot express.
type Config struct {
	// Host is the client listen address. Loopback by default: the control plane talks to its
	// embedded server in-process or over loopback; exposing it is an explicit decision.
	Host string `yaml:"host" json:"host"`
	// Port is the client port: 5690 by default (never 4222, where a system NATS may run),
	// RandomPort (-1) for a free one. 0 is rejected because nats-server would read it as 4222.
	Port int `yaml:"port" json:"port"`
	// ServerName names the server in logs and in JetStream metadata; empty lets nats-server
	// generate one.
	ServerName string `yaml:"serverName" json:"serverName"`
	// StoreDir is the JetStream file storage directory. Required: without it nats-server would
	// write under the system temp directory, which does not survive a reboot.
	StoreDir string `yaml:"storeDir" json:"storeDir"`
	// SyncAlways makes JetStream fsync every write before it sends the publish ack. Without it
	// the file store hands writes to the OS before acking (a killed process loses nothing) but
	// fsyncs only in the background (every 2 minutes by default), so an OS crash or power loss
	// can lose events the API already confirmed with 200 OK. The event log is jetmesh's
	// database: an acknowledged write must be durable, and one fsync per append (about 0.2 ms on
	// an SSD, see events/jetstream BenchmarkAppend) is cheap at control-plane write rates.
	// Default true.
	SyncAlways bool `yaml:"syncAlways" json:"syncAlways"`
	// Domain is the JetStream domain (for multi-zone: "global" or the zone name); empty for none.
	Domain string `yaml:"domain" json:"domain"`
	// MaxMemory and MaxStore cap JetStream memory and file storage in bytes; 0 lets nats-server
	// choose (a share of RAM and of the disk holding StoreDir).
	MaxMemory int64 `yaml:"maxMemory" json:"maxMemory"`
	MaxStore  int64 `yaml:"maxStore" json:"maxStore"`
	// StartTimeout bounds how long Start waits for the server to accept connections. Default 10s.
	StartTimeout time.Duration `yaml:"startTimeout" json:"startTimeout"`
	// Trace logs every protocol message at debug level. Very verbose; default false.
	Trace bool `yaml:"trace" json:"trace"`
	// Leaf makes the server a leafnode hub (the global control plane). With it, every
	// connection is authenticated: the CP's own in-process connections with a per-process
	// secret, leafnode links by Leaf.Authenticate.
	Leaf *LeafListen `yaml:"-" json:"-"`
	// Remotes are outgoing leafnode links (a zone control plane joining the global).
	Remotes []LeafRemote `yaml:"-" json:"-"`
}

var domainName = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

// DefaultConfig returns the documented defaults. StoreDir is left empty and must be set.
func DefaultConfig() Config {
	return Config{
		Host:         DefaultHost,
		Port:         DefaultPort,
		SyncAlways:   true,
		StartTimeout: DefaultStartTimeout,
	}
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Host == "" {
		errs = append(errs, errors.New("host is required"))
	}
	switch {
	case c.Port == 0:
		errs = append(errs, errors.New("port 0: nats-server would listen on 4222; use -1 for a random port"))
	case c.Port < RandomPort || c.Port > 65535:
		errs = append(errs, fmt.Errorf("port %d out of range", c.Port))
	}
	if !domainName.MatchString(c.Domain) {
		errs = append(errs, fmt.Errorf("domain %q: want letters, digits, '-' and '_' only", c.Domain))
	}
	if c.StoreDir == "" {
		errs = append(errs, errors.New("storeDir is required"))
	}
	if c.MaxMemory < 0 || c.MaxStore < 0 {
		errs = append(errs, errors.New("maxMemory and maxStore must not be negative"))
	}
	if c.Leaf != nil {
		if err := c.Leaf.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range c.Remotes {
		if err := r.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.StartTimeout <= 0 {
		errs = append(errs, errors.New("startTimeout must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("embedded NATS config: %w", err)
	}
	return nil
}

func (c Config) addr() string {
	port := c.Port
	if port == RandomPort {
		port = 0
	}
	return net.JoinHostPort(c.Host, fmt.Sprint(port))
}
