package controlplane_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/jetmesh/jetmesh/services/controlplane"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// store.historyMaxEvents bounds every resource's history through the API; the current
// revision stays and is what GET answers.
func TestHistoryMaxEventsThroughAPI(t *testing.T) {
	cp := cptest.Start(t, "", func(c *controlplane.Config) { c.Store.HistoryMaxEvents = 2 })
	path := cp.URL + "/meshes/default/meshtrafficpermissions/p"
	for i, action := range []string{"Allow", "Deny", "Allow", "Deny"} {
		body := fmt.Sprintf(`{"type":"MeshTrafficPermission","mesh":"default","name":"p","spec":{"targetRef":{"kind":"Mesh"},"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":%q}}]}}`, action)
		if code := status(t, "PUT", path, body); code != map[bool]int{true: 201, false: 200}[i == 0] {
			t.Fatalf("write %d: %d", i, code)
		}
	}
	var h struct {
		Total int `json:"total"`
		Items []struct {
			Revision int `json:"revision"`
		} `json:"items"`
	}
	getJSON(t, path+"/_history", &h)
	if h.Total != 2 || h.Items[0].Revision != 4 || h.Items[1].Revision != 3 {
		t.Fatalf("history with historyMaxEvents 2: %+v, want revisions 4 and 3", h)
	}
	var res struct {
		Spec struct {
			From []struct {
				Default struct{ Action string } `json:"default"`
			} `json:"from"`
		} `json:"spec"`
	}
	getJSON(t, path, &res)
	if len(res.Spec.From) != 1 || res.Spec.From[0].Default.Action != "Deny" {
		t.Fatalf("current revision: %+v", res)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
