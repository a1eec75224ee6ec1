package targetref

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is the duration type of targetRef policies (Kubernetes' metav1.Duration): JSON is a
// Go duration string ("5s", "1m30s"), written back as time.Duration.String ("1m30s"), which is
// what Kuma's REST API returns.
type Duration struct {
	time.Duration
}

// Dur returns a *Duration, for building policies in code.
func Dur(d time.Duration) *Duration { return &Duration{d} }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.Duration.String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration: %w", err)
	}
	d.Duration = v
	return nil
}
