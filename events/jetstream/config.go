package jetstream

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/events"
)

// Defaults of Config.
const (
	DefaultReplicas   = 1
	DefaultDuplicates = 2 * time.Minute
)

// Config describes the one stream a Store reads and writes. Start from DefaultConfig.
type Config struct {
	// Stream is the JetStream stream name, e.g. "JM_ZONE_default". Required.
	Stream string `yaml:"stream" json:"stream"`
	// Subjects are the stream's subject filters, normally one scope's wildcard
	// (events.ZoneScope("default").Wildcard()). Required. Append refuses keys outside them.
	Subjects []string `yaml:"subjects" json:"subjects"`
	// Replicas is the stream replication factor: 1 for the embedded server, 3 on a cluster.
	Replicas int `yaml:"replicas" json:"replicas"`
	// HistoryMaxAge is how long superseded events are kept; 0 keeps them forever. It is NOT the
	// stream's MaxAge: that would also expire the current state of resources that have not
	// changed for that long. The owner applies it by calling Store.Compact periodically.
	HistoryMaxAge time.Duration `yaml:"historyMaxAge" json:"historyMaxAge"`
	// HistoryMaxEvents keeps at most this many events per resource (JetStream's per-subject
	// limit, enforced by the server on every append); 0 keeps them all. The newest event of a
	// resource — its current state, or its tombstone — is never removed by it.
	HistoryMaxEvents int `yaml:"historyMaxEvents" json:"historyMaxEvents"`
	// Duplicates is the window in which JetStream drops a repeated Nats-Msg-Id (Change.ID).
	Duplicates time.Duration `yaml:"duplicates" json:"duplicates"`
	// Mirror makes the stream a read-only copy of another stream, usually in another
	// JetStream domain (a zone's log on the global, the global's log on a zone). Append is
	// refused; Subjects must be empty.
	Mirror *jetstream.StreamSource `yaml:"-" json:"-"`
	// Sources make the stream a read-only aggregate of parts of other streams (the zones'
	// ingresses and egresses on the global). Append is refused unless Subjects cover the key.
	Sources []*jetstream.StreamSource `yaml:"-" json:"-"`
}

// replica reports whether the stream is a mirror or aggregate, which nobody appends to.
func (c Config) replica() bool { return c.Mirror != nil || len(c.Sources) > 0 }

// DefaultConfig returns the defaults: one replica, a 2-minute duplicate window, keep history
// forever. Stream and Subjects must still be set.
func DefaultConfig() Config {
	return Config{Replicas: DefaultReplicas, Duplicates: DefaultDuplicates}
}

// ScopeConfig is DefaultConfig for a stream holding one scope's events.
func ScopeConfig(stream string, scope events.Scope) Config {
	cfg := DefaultConfig()
	cfg.Stream = stream
	cfg.Subjects = []string{scope.Wildcard()}
	return cfg
}

var streamName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if !streamName.MatchString(c.Stream) {
		errs = append(errs, fmt.Errorf("stream name %q: want 1-255 of [A-Za-z0-9_-]", c.Stream))
	}
	switch {
	case c.Mirror != nil && len(c.Sources) > 0:
		errs = append(errs, errors.New("a stream is a mirror or has sources, not both"))
	case c.Mirror != nil && len(c.Subjects) > 0:
		errs = append(errs, errors.New("a mirror has no subjects of its own"))
	case !c.replica() && len(c.Subjects) == 0:
		errs = append(errs, errors.New("no subjects"))
	}
	for _, s := range c.Subjects {
		if !validFilter(s) {
			errs = append(errs, fmt.Errorf("subject filter %q is not valid", s))
		}
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas %d: want 1 to 5", c.Replicas))
	}
	if c.HistoryMaxAge < 0 {
		errs = append(errs, errors.New("historyMaxAge must not be negative"))
	}
	if c.HistoryMaxEvents < 0 {
		errs = append(errs, errors.New("historyMaxEvents must not be negative"))
	}
	if c.Duplicates <= 0 {
		errs = append(errs, errors.New("duplicates window must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("event stream config: %w", err)
	}
	return nil
}

// streamConfig is the JetStream configuration of the stream. Every limit but the per-subject
// one (HistoryMaxEvents) is unlimited and the discard policy is DiscardNew: when the account or
// disk is full the publish fails loudly instead of JetStream silently dropping the oldest
// events (which are current state). The per-subject limit always drops a subject's oldest
// events (DiscardNewPerSubject stays off), never the newest.
func (c Config) streamConfig() jetstream.StreamConfig {
	perSubject := int64(-1)
	if c.HistoryMaxEvents > 0 {
		perSubject = int64(c.HistoryMaxEvents)
	}
	sc := jetstream.StreamConfig{
		Name:              c.Stream,
		Description:       "jetmesh event log",
		Subjects:          c.Subjects,
		Retention:         jetstream.LimitsPolicy,
		Storage:           jetstream.FileStorage,
		Replicas:          c.Replicas,
		Discard:           jetstream.DiscardNew,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxAge:            0, // see HistoryMaxAge
		MaxMsgsPerSubject: perSubject,
		MaxConsumers:      -1,
		MaxMsgSize:        -1,
		Duplicates:        c.Duplicates,
		AllowDirect:       true, // Last and History use direct gets
		DenyDelete:        true, // events are immutable; only Compact's purges remove them
	}
	if c.replica() {
		sc.Description = "jetmesh event log (replica)"
		sc.Mirror, sc.Sources = c.Mirror, c.Sources
	}
	return sc
}

// validFilter checks a subject filter: non-empty tokens without whitespace, '*' and '>' only
// as whole tokens, '>' only last.
func validFilter(f string) bool {
	if f == "" || strings.ContainsAny(f, " \t\r\n") {
		return false
	}
	toks := strings.Split(f, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return false
		case t == ">" && i != len(toks)-1:
			return false
		case t != "*" && t != ">" && strings.ContainsAny(t, "*>"):
			return false
		}
	}
	return true
}

// matchSubject reports whether the literal subject matches the filter.
func matchSubject(filter, subject string) bool {
	ft := strings.Split(filter, ".")
	st := strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return len(st) > i
		}
		if i >= len(st) || f != "*" && f != st[i] {
			return false
		}
	}
	return len(ft) == len(st)
}
