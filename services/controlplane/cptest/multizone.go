package cptest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Do sends a request to a CP's API (JSON body when not empty) and returns the status and body.
func Do(t testing.TB, method, url, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Eventually polls cond until it holds, failing the test after 30s with the last detail.
func Eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not reached within 30s (last: %s)", what, last)
}

// ZoneToken issues a zone token on the global for zone.
func ZoneToken(t testing.TB, global *CP, zone string) string {
	t.Helper()
	code, body := Do(t, http.MethodPost, global.URL+"/tokens/zone",
		fmt.Sprintf(`{"zone":%q,"scope":["cp"],"validFor":"1h"}`, zone))
	if code != http.StatusOK {
		t.Fatalf("zone token for %s: %d %s", zone, code, body)
	}
	return body
}

// ZoneOnline reports whether the global has an open link with the zone, and the overview.
func ZoneOnline(t testing.TB, global *CP, zone string) (bool, string) {
	t.Helper()
	code, body := Do(t, http.MethodGet, global.URL+"/zones/"+zone+"/_overview", "")
	if code != http.StatusOK {
		return false, body
	}
	var ov struct {
		ZoneInsight struct {
			Subscriptions []struct {
				ConnectTime    string `json:"connectTime"`
				DisconnectTime string `json:"disconnectTime"`
			} `json:"subscriptions"`
		} `json:"zoneInsight"`
	}
	if err := json.Unmarshal([]byte(body), &ov); err != nil {
		t.Fatal(err)
	}
	subs := ov.ZoneInsight.Subscriptions
	return len(subs) > 0 && subs[len(subs)-1].DisconnectTime == "", body
}

// StartMultizone runs a global and one zone CP per name, linked, and waits until every zone
// is online on the global. The global's zone-link port is returned for tests that restart
// or relay links.
func StartMultizone(t testing.TB, zones ...string) (global *CP, zoneCPs []*CP, port int) {
	t.Helper()
	port = FreePort(t)
	global = Start(t, "", Global(port))
	for _, z := range zones {
		zoneCPs = append(zoneCPs, Start(t, "", Zone(z, port, global.KDSCACertFile(), ZoneToken(t, global, z))))
	}
	for _, z := range zones {
		Eventually(t, z+" online on the global", func() (bool, string) { return ZoneOnline(t, global, z) })
	}
	return global, zoneCPs, port
}
