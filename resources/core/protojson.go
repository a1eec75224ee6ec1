package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kuma stores these types as protobuf messages and renders them with jsonpb. The types below
// reproduce jsonpb's encoding of the well-known types that encoding/json renders differently,
// so our JSON is byte-for-byte what kumactl gets from Kuma.

// Duration is a google.protobuf.Duration. Like Kuma's jsonpb it accepts any Go duration string
// ("1m30s", "500ms") and renders seconds with 0, 3, 6 or 9 fractional digits ("90s", "0.500s").
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	ns := int64(d)
	sign := ""
	if ns < 0 {
		sign, ns = "-", -ns
	}
	x := fmt.Sprintf("%s%d.%09d", sign, ns/1e9, ns%1e9)
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, ".000")
	return json.Marshal(x + "s")
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("bad Duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad Duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Timestamp is a google.protobuf.Timestamp: RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits.
type Timestamp struct{ time.Time }

// NewTimestamp wraps a time.
func NewTimestamp(t time.Time) *Timestamp { return &Timestamp{Time: t} }

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	x := t.UTC().Format("2006-01-02T15:04:05.000000000")
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, ".000")
	return json.Marshal(x + "Z")
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("bad Timestamp: %w", err)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("bad Timestamp: %w", err)
	}
	t.Time = v
	return nil
}

// Uint64 is a protobuf uint64: jsonpb renders it as a quoted decimal and reads either form.
type Uint64 uint64

// MarshalJSON implements json.Marshaler.
func (u Uint64) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatUint(uint64(u), 10) + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (u *Uint64) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseUint(string(bytes.Trim(b, `"`)), 10, 64)
	if err != nil {
		return fmt.Errorf("bad uint64 %s", b)
	}
	*u = Uint64(v)
	return nil
}

// Struct is a google.protobuf.Struct: any JSON object. It is kept as JSON, normalised the way
// jsonpb prints a Struct (compact, keys sorted at every level).
type Struct []byte

// MarshalJSON implements json.Marshaler.
func (s Struct) MarshalJSON() ([]byte, error) {
	if len(s) == 0 {
		return []byte("null"), nil
	}
	return s, nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (s *Struct) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*s = nil
		return nil
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("bad StructValue: %w", err)
	}
	norm, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	*s = norm
	return nil
}

// Decode unmarshals the object into a typed config, ignoring fields it does not know, as
// Kuma's proto ToTyped does.
func (s Struct) Decode(dst any) error {
	if len(s) == 0 {
		return nil
	}
	return json.Unmarshal(s, dst)
}

// enum decodes a protobuf enum the way jsonpb does: by name or by number. The first name is the
// zero value, which jsonpb never prints, so it is stored as "" (and omitted).
func decodeEnum(b []byte, names []string, typ string) (string, error) {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		var n int
		if err := json.Unmarshal(b, &n); err != nil || n < 0 || n >= len(names) {
			return "", fmt.Errorf("unknown value %s for enum %s", b, typ)
		}
		name = names[n]
	}
	for i, known := range names {
		if name == known {
			if i == 0 {
				return "", nil
			}
			return name, nil
		}
	}
	return "", fmt.Errorf("unknown value %q for enum %s", name, typ)
}

func enumName(v string, names []string) string {
	if v == "" {
		return names[0]
	}
	return v
}
