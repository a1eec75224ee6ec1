package events

import (
	"errors"
	"fmt"
	"strings"
)

// Subject grammar (one hierarchy, never one stream per resource):
//
//	jm.global.<Type>.<mesh>.<name>          resources that originate at the global CP
//	jm.zone.<zone>.<Type>.<mesh>.<name>     resources that originate in a zone (or standalone CP)
//
// Global-scoped types (Mesh, Zone, ZoneIngress, ...) use the empty mesh. Every variable token is
// encoded with EncodeToken so names holding '.', '*', '>', spaces or non-ASCII stay one token.
const (
	subjectRoot = "jm"
	scopeGlobal = "global"
	scopeZone   = "zone"
	escapeByte  = '~'
	emptyToken  = "~"
	hexDigits   = "0123456789abcdef"
	// maxTokenSize bounds decoded tokens; resource names are far shorter (253 bytes).
	maxTokenSize = 1024
)

// ErrBadSubject is returned for subjects that do not follow the grammar.
var ErrBadSubject = errors.New("malformed subject")

// Scope says where a resource originates: the global CP (Zone == "") or one zone.
type Scope struct {
	Zone string
}

// GlobalScope is the scope of resources owned by the global control plane.
var GlobalScope = Scope{}

// ZoneScope returns the scope of resources owned by the named zone.
func ZoneScope(zone string) Scope { return Scope{Zone: zone} }

// IsGlobal reports whether the scope is the global CP's.
func (s Scope) IsGlobal() bool { return s.Zone == "" }

// Origin is the value of the event's origin attribute for this scope.
func (s Scope) Origin() string {
	if s.IsGlobal() {
		return "global"
	}
	return "zone:" + s.Zone
}

// Prefix is the subject prefix, without a trailing dot, of everything in the scope.
func (s Scope) Prefix() string {
	if s.IsGlobal() {
		return subjectRoot + "." + scopeGlobal
	}
	return subjectRoot + "." + scopeZone + "." + EncodeToken(s.Zone)
}

// Wildcard is the subject filter matching every resource in the scope.
func (s Scope) Wildcard() string { return s.Prefix() + ".>" }

// Key addresses one resource in the log.
type Key struct {
	Scope Scope
	Type  string
	Mesh  string // empty for global-scoped types
	Name  string
}

// String is a human-readable form for logs and errors.
func (k Key) String() string {
	if k.Mesh == "" {
		return fmt.Sprintf("%s/%s", k.Type, k.Name)
	}
	return fmt.Sprintf("%s/%s/%s", k.Type, k.Mesh, k.Name)
}

// Subject encodes the key as a NATS subject.
func (k Key) Subject() string {
	var b strings.Builder
	b.WriteString(k.Scope.Prefix())
	for _, t := range []string{k.Type, k.Mesh, k.Name} {
		b.WriteByte('.')
		b.WriteString(EncodeToken(t))
	}
	return b.String()
}

// TypeWildcard is the subject filter for every resource of one type in a scope.
func TypeWildcard(s Scope, typ string) string {
	return s.Prefix() + "." + EncodeToken(typ) + ".>"
}

// ParseSubject is the inverse of Key.Subject.
func ParseSubject(subject string) (Key, error) {
	toks := strings.Split(subject, ".")
	var k Key
	var rest []string
	switch {
	case len(toks) == 5 && toks[0] == subjectRoot && toks[1] == scopeGlobal:
		rest = toks[2:]
	case len(toks) == 6 && toks[0] == subjectRoot && toks[1] == scopeZone:
		zone, err := DecodeToken(toks[2])
		if err != nil || zone == "" {
			return Key{}, fmt.Errorf("%w %q: zone token", ErrBadSubject, subject)
		}
		k.Scope = ZoneScope(zone)
		rest = toks[3:]
	default:
		return Key{}, fmt.Errorf("%w %q", ErrBadSubject, subject)
	}
	var err error
	if k.Type, err = DecodeToken(rest[0]); err != nil || k.Type == "" {
		return Key{}, fmt.Errorf("%w %q: type token", ErrBadSubject, subject)
	}
	if k.Mesh, err = DecodeToken(rest[1]); err != nil {
		return Key{}, fmt.Errorf("%w %q: mesh token: %v", ErrBadSubject, subject, err)
	}
	if k.Name, err = DecodeToken(rest[2]); err != nil || k.Name == "" {
		return Key{}, fmt.Errorf("%w %q: name token", ErrBadSubject, subject)
	}
	return k, nil
}

// EncodeToken turns any string into one valid NATS subject token, reversibly. Letters, digits,
// '-' and '_' pass through (so typical Kuma names stay readable); every other byte becomes
// '~' and two lower-case hex digits; the empty string becomes "~".
func EncodeToken(s string) string {
	if s == "" {
		return emptyToken
	}
	plain := true
	for i := 0; i < len(s); i++ {
		if !passThrough(s[i]) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if passThrough(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(escapeByte)
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

// DecodeToken is the inverse of EncodeToken. It accepts only the canonical encoding, so every
// string has exactly one token and every token at most one string.
func DecodeToken(tok string) (string, error) {
	if tok == emptyToken {
		return "", nil
	}
	if tok == "" || len(tok) > 3*maxTokenSize {
		return "", fmt.Errorf("%w: token length %d", ErrBadSubject, len(tok))
	}
	if !strings.ContainsRune(tok, escapeByte) {
		for i := 0; i < len(tok); i++ {
			if !passThrough(tok[i]) {
				return "", fmt.Errorf("%w: byte %q in token", ErrBadSubject, tok[i])
			}
		}
		return tok, nil
	}
	out := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if passThrough(c) {
			out = append(out, c)
			continue
		}
		if c != escapeByte || i+2 >= len(tok) {
			return "", fmt.Errorf("%w: byte %q at %d", ErrBadSubject, c, i)
		}
		hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("%w: bad escape at %d", ErrBadSubject, i)
		}
		v := byte(hi<<4 | lo)
		if passThrough(v) {
			return "", fmt.Errorf("%w: non-canonical escape at %d", ErrBadSubject, i)
		}
		out = append(out, v)
		i += 2
	}
	return string(out), nil
}

func passThrough(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// unhex accepts only lower-case digits, which keeps the encoding canonical.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}
