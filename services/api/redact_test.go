package api_test

import (
	"strings"
	"testing"
)

// Secret material never appears where events are shown (the feed, from the log and from
// PostgreSQL, history and diffs); they show a fingerprint that changes with the value. A GET
// of the secret itself answers its data, as Kuma's does.
func TestSecretsRedactedInEvents(t *testing.T) { onBothBackends(t, testSecretsRedacted) }

func testSecretsRedacted(t *testing.T, c client) {
	const v1, v2 = "c2VjcmV0LW9uZQ==", "c2VjcmV0LXR3bw==" // "secret-one", "secret-two"
	c.must("PUT", "/meshes/default/secrets/db", `{"type":"Secret","mesh":"default","name":"db","data":"`+v1+`"}`, 201)
	c.must("PUT", "/meshes/default/secrets/db", `{"type":"Secret","mesh":"default","name":"db","data":"`+v2+`"}`, 200)
	c.must("PUT", "/globalsecrets/g", `{"type":"GlobalSecret","name":"g","data":"`+v1+`"}`, 201)
	for _, path := range []string{
		"/events?type=Secret", "/events?type=GlobalSecret", "/events",
		"/meshes/default/secrets/db/_history", "/globalsecrets/g/_history",
		"/meshes/default/secrets/db/_diff?from=1&to=2",
	} {
		code, _, raw := c.do("GET", path, "")
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, raw)
		}
		if strings.Contains(raw, v1) || strings.Contains(raw, v2) {
			t.Errorf("GET %s shows secret material: %s", path, raw)
		}
		if !strings.Contains(raw, "dataSha256") {
			t.Errorf("GET %s shows no fingerprint of the secret: %s", path, raw)
		}
	}
	if _, _, raw := c.do("GET", "/meshes/default/secrets/db/_diff?from=1&to=2", ""); !strings.Contains(raw, `"/dataSha256"`) {
		t.Errorf("a changed secret's diff does not show that its data changed: %s", raw)
	}
	if _, _, raw := c.do("GET", "/meshes/default/secrets/db", ""); !strings.Contains(raw, v2) {
		t.Errorf("GET of the secret itself lost its data: %s", raw)
	}
}
