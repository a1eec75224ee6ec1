package events

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEncodeToken(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "~"},
		{"default", "default"},
		{"Backend_1-a", "Backend_1-a"},
		{"web.default.svc", "web~2edefault~2esvc"},
		{"a*b", "a~2ab"},
		{">", "~3e"},
		{"with space", "with~20space"},
		{"tab\t", "tab~09"},
		{"~", "~7e"},
		{"~41", "~7e41"},
		{"ü", "~c3~bc"},
		{"\x00\xff", "~00~ff"},
	}
	for _, tt := range tests {
		if got := EncodeToken(tt.in); got != tt.want {
			t.Errorf("EncodeToken(%q) = %q, want %q", tt.in, got, tt.want)
		}
		got, err := DecodeToken(tt.want)
		if err != nil || got != tt.in {
			t.Errorf("DecodeToken(%q) = %q, %v; want %q", tt.want, got, err, tt.in)
		}
	}
}

func TestDecodeTokenRejectsNonCanonical(t *testing.T) {
	for _, tok := range []string{
		"",       // the empty string is "~"
		"~41",    // 'A' passes through, so it is never escaped
		"~2E",    // upper-case hex
		"a~4",    // truncated escape
		"a~",     // dangling escape
		"~~",     //
		"~7",     //
		"~zz",    // not hex
		"a.b",    // separator
		"a b",    // space
		"*", ">", // wildcards
		"ü",     // raw non-ASCII
		"~5f",   // '_' passes through
		"~2d",   // '-' passes through
		"ab~30", // '0' passes through
		"\x00",  // control byte
		strings.Repeat("a", 3*maxTokenSize+1),
	} {
		if got, err := DecodeToken(tok); err == nil {
			t.Errorf("DecodeToken(%q) = %q, want an error", tok, got)
		} else if !errors.Is(err, ErrBadSubject) {
			t.Errorf("DecodeToken(%q) error %v does not wrap ErrBadSubject", tok, err)
		}
	}
}

func TestTokenLengthLimit(t *testing.T) {
	// Any string up to maxTokenSize bytes round-trips, even when every byte is escaped.
	long := strings.Repeat(".", maxTokenSize)
	if got, err := DecodeToken(EncodeToken(long)); err != nil || got != long {
		t.Errorf("%d escaped bytes: DecodeToken(EncodeToken) = %d bytes, %v", maxTokenSize, len(got), err)
	}
	// EncodeToken cannot fail, so a longer name encodes to a token DecodeToken refuses; stores
	// must check that a key round-trips through its subject before writing it.
	longer := strings.Repeat(".", maxTokenSize+1)
	if _, err := DecodeToken(EncodeToken(longer)); err == nil {
		t.Errorf("%d escaped bytes decoded; the length limit moved", maxTokenSize+1)
	}
}

func TestKeySubject(t *testing.T) {
	tests := []struct {
		key  Key
		want string
	}{
		{Key{Scope: GlobalScope, Type: "Mesh", Name: "default"}, "jm.global.Mesh.~.default"},
		{Key{Scope: ZoneScope("east"), Type: "Dataplane", Mesh: "default", Name: "backend-1"},
			"jm.zone.east.Dataplane.default.backend-1"},
		{Key{Scope: ZoneScope("us.east 1"), Type: "Dataplane", Mesh: "m.1", Name: "web.default.svc"},
			"jm.zone.us~2eeast~201.Dataplane.m~2e1.web~2edefault~2esvc"},
		{Key{Scope: GlobalScope, Type: "MeshTrafficPermission", Mesh: "default", Name: "*>~ ü"},
			"jm.global.MeshTrafficPermission.default.~2a~3e~7e~20~c3~bc"},
	}
	for _, tt := range tests {
		if got := tt.key.Subject(); got != tt.want {
			t.Errorf("%+v.Subject() = %q, want %q", tt.key, got, tt.want)
		}
		got, err := ParseSubject(tt.want)
		if err != nil || got != tt.key {
			t.Errorf("ParseSubject(%q) = %+v, %v; want %+v", tt.want, got, err, tt.key)
		}
	}
}

func TestScope(t *testing.T) {
	if !GlobalScope.IsGlobal() || ZoneScope("a").IsGlobal() {
		t.Error("IsGlobal")
	}
	if got := GlobalScope.Origin(); got != "global" {
		t.Errorf("global Origin() = %q", got)
	}
	if got := ZoneScope("east").Origin(); got != "zone:east" {
		t.Errorf("zone Origin() = %q", got)
	}
	if got := ZoneScope("a.b").Wildcard(); got != "jm.zone.a~2eb.>" {
		t.Errorf("Wildcard() = %q", got)
	}
	if got := TypeWildcard(GlobalScope, "Mesh"); got != "jm.global.Mesh.>" {
		t.Errorf("TypeWildcard() = %q", got)
	}
}

func TestParseSubjectRejects(t *testing.T) {
	for _, subj := range []string{
		"",
		"jm",
		"jm.global.Mesh.~",                // too few tokens
		"jm.global.Mesh.~.default.extra",  // too many
		"jm.zone.east.Dataplane.default",  // zone with too few
		"xx.global.Mesh.~.default",        // root
		"jm.other.Mesh.~.default",         // scope
		"jm.zone.~.Dataplane.default.a",   // empty zone is the global scope
		"jm.global.~.~.default",           // empty type
		"jm.global.Mesh.~.~",              // empty name
		"jm.global.Mesh.~41.default",      // non-canonical mesh
		"jm.global.Mesh.~.~41",            // non-canonical name
		"jm.zone.~2E.Dataplane.default.a", // non-canonical zone
		"jm.global.Mesh..default",         // empty token
		"jm.global.Mesh.~.a b",            // space
		"jm.global.Mesh.~.*",              // wildcard
		"jm.global.Mesh.~.>",              //
	} {
		if k, err := ParseSubject(subj); err == nil {
			t.Errorf("ParseSubject(%q) = %+v, want an error", subj, k)
		} else if !errors.Is(err, ErrBadSubject) {
			t.Errorf("ParseSubject(%q) error %v does not wrap ErrBadSubject", subj, err)
		}
	}
}

// checkToken asserts the properties every encoded token has.
func checkToken(t *testing.T, in, tok string) {
	t.Helper()
	if tok == "" {
		t.Fatalf("EncodeToken(%q) is empty", in)
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c == '.' || c == '*' || c == '>' || c <= ' ' || c >= 0x7f {
			t.Fatalf("EncodeToken(%q) = %q holds byte %q", in, tok, c)
		}
	}
	if !utf8.ValidString(tok) {
		t.Fatalf("EncodeToken(%q) = %q is not valid UTF-8", in, tok)
	}
}

func FuzzTokenRoundTrip(f *testing.F) {
	for _, s := range []string{"", "default", "web.default.svc", "a*b>c", " ", "~", "~41", "~2e", "ü名前🚀",
		"\x00\xff\x7f", "a~", "~7e", "A-Z_0-9", "\t\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := EncodeToken(s)
		checkToken(t, s, tok)
		got, err := DecodeToken(tok)
		if len(s) <= maxTokenSize && (err != nil || got != s) {
			t.Fatalf("DecodeToken(EncodeToken(%q)) = %q, %v", s, got, err)
		}
		// Read s as a token: whatever DecodeToken accepts must be the canonical encoding.
		dec, err := DecodeToken(s)
		if err != nil {
			if !errors.Is(err, ErrBadSubject) {
				t.Fatalf("DecodeToken(%q) error %v does not wrap ErrBadSubject", s, err)
			}
			return
		}
		if re := EncodeToken(dec); re != s {
			t.Fatalf("DecodeToken(%q) = %q, which encodes to %q", s, dec, re)
		}
	})
}

func FuzzSubjectRoundTrip(f *testing.F) {
	f.Add("", "Mesh", "", "default")
	f.Add("east", "Dataplane", "default", "backend-1")
	f.Add("us.east", "Dataplane", "m*", "web.default.svc")
	f.Add("~", "T", "~41", ">")
	f.Add("z", "", "m", "n")
	f.Add("z", "T", "m", "")
	f.Fuzz(func(t *testing.T, zone, typ, mesh, name string) {
		k := Key{Scope: ZoneScope(zone), Type: typ, Mesh: mesh, Name: name}
		subj := k.Subject()
		for _, tok := range strings.Split(subj, ".") {
			checkToken(t, subj, tok)
		}
		got, err := ParseSubject(subj)
		fits := len(zone) <= maxTokenSize && len(typ) <= maxTokenSize && len(mesh) <= maxTokenSize && len(name) <= maxTokenSize
		switch {
		case typ == "" || name == "":
			if err == nil {
				t.Fatalf("ParseSubject(%q) accepted an empty type or name: %+v", subj, got)
			}
		case fits && (err != nil || got != k):
			t.Fatalf("ParseSubject(%q) = %+v, %v; want %+v", subj, got, err, k)
		}
		// Any subject ParseSubject accepts is the canonical subject of its key.
		for _, raw := range []string{
			strings.Join([]string{"jm", "global", typ, mesh, name}, "."),
			strings.Join([]string{"jm", "zone", zone, typ, mesh, name}, "."),
		} {
			if pk, err := ParseSubject(raw); err == nil && pk.Subject() != raw {
				t.Fatalf("ParseSubject(%q) = %+v, whose subject is %q", raw, pk, pk.Subject())
			}
		}
	})
}
