package zonesync_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// summary lists a collection as "name=detail" lines, detail being what the churn changes
// (a dataplane's inbound port, a policy's action).
func summary(t *testing.T, url string, detail func(map[string]any) string) []string {
	t.Helper()
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(mustCall(t, http.MethodGet, url, "", http.StatusOK)), &list); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range list.Items {
		out = append(out, fmt.Sprintf("%s=%s", it["name"], detail(it)))
	}
	sort.Strings(out)
	return out
}

func inboundPort(it map[string]any) string {
	n, _ := it["networking"].(map[string]any)
	in, _ := n["inbound"].([]any)
	if len(in) == 0 {
		return "?"
	}
	return fmt.Sprint(in[0].(map[string]any)["port"])
}

func action(it map[string]any) string {
	b, _ := json.Marshal(it["spec"])
	return strings.Join(strings.Fields(string(b)), "")
}

// Seed "Failure modes" 4: random changes in all three control planes while the links flap;
// afterwards the global's view of each zone equals the zone's own state, and every zone has
// the global's state.
func TestChurnWithFlappingLinks(t *testing.T) {
	port := cptest.FreePort(t)
	g := cptest.Start(t, "", cptest.Global(port))
	relays := map[string]*relay{}
	zones := map[string]*cptest.CP{}
	for _, name := range []string{"zone-1", "zone-2"} {
		r := newRelay(t, fmt.Sprintf("127.0.0.1:%d", port))
		_, rp, _ := net.SplitHostPort(r.Addr())
		var relayPort int
		fmt.Sscan(rp, &relayPort)
		relays[name] = r
		zones[name] = cptest.Start(t, "", cptest.Zone(name, relayPort, g.KDSCACertFile(), zoneToken(t, g, name)))
	}
	for name := range zones {
		eventually(t, name+" online", func() (bool, string) { return zoneOnline(t, g, name) })
	}
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo", `{"type":"Mesh","name":"demo"}`, http.StatusCreated)
	for _, z := range zones {
		eventually(t, "mesh on a zone", status(t, z.URL+"/meshes/demo", http.StatusOK))
	}

	rng := rand.New(rand.NewPCG(7, 11))
	names := []string{"zone-1", "zone-2"}
	for i := 0; i < 120; i++ {
		if i%15 == 0 { // flap a link
			relays[names[rng.IntN(2)]].toggle()
		}
		n := rng.IntN(6)
		switch rng.IntN(3) {
		case 0: // the global changes a policy
			path := fmt.Sprintf("%s/meshes/demo/meshtrafficpermissions/p%d", g.URL, n)
			if rng.IntN(4) == 0 {
				call(t, http.MethodDelete, path, "")
			} else {
				act := []string{"Allow", "Deny", "AllowWithShadowDeny"}[rng.IntN(3)]
				call(t, http.MethodPut, path, policy(fmt.Sprintf("p%d", n), act))
			}
		default: // a zone changes a dataplane
			z := zones[names[rng.IntN(2)]]
			path := fmt.Sprintf("%s/meshes/demo/dataplanes/dp%d", z.URL, n)
			if rng.IntN(4) == 0 {
				call(t, http.MethodDelete, path, "")
			} else {
				body := strings.Replace(dataplaneNamed(fmt.Sprintf("dp%d", n)), `"port":8080`, fmt.Sprintf(`"port":%d`, 8000+rng.IntN(100)), 1)
				if code, out := call(t, http.MethodPut, path, body); code != http.StatusOK && code != http.StatusCreated {
					t.Fatalf("PUT %s = %d %s", path, code, out)
				}
			}
		}
	}
	for _, r := range relays {
		r.setCut(false)
	}

	global := func() []string { return summary(t, g.URL+"/meshes/demo/meshtrafficpermissions", action) }
	for _, name := range names {
		z := zones[name]
		eventually(t, name+" has the global's policies", func() (bool, string) {
			want, got := global(), summary(t, z.URL+"/meshes/demo/meshtrafficpermissions", action)
			return fmt.Sprint(want) == fmt.Sprint(got), fmt.Sprintf("global %v, zone %v", want, got)
		})
		eventually(t, "the global's view of "+name, func() (bool, string) {
			own := summary(t, z.URL+"/meshes/demo/dataplanes", inboundPort)
			for i := range own {
				k, v, _ := strings.Cut(own[i], "=")
				own[i] = k + "." + name + "=" + v
			}
			seen := summary(t, g.URL+"/meshes/demo/dataplanes?filter[labels.kuma.io/zone]="+name, inboundPort)
			return fmt.Sprint(own) == fmt.Sprint(seen), fmt.Sprintf("zone %v, global %v", own, seen)
		})
	}
}
