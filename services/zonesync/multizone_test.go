package zonesync_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// call does one API request and returns the status and body.
func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	return cptest.Do(t, method, url, body)
}

// compact drops the API's pretty-printing whitespace, so tests can look for key-value pairs.
func compact(s string) string { return strings.Join(strings.Fields(s), "") }

func mustCall(t *testing.T, method, url, body string, want int) string {
	t.Helper()
	code, out := call(t, method, url, body)
	if code != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, url, code, want, out)
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	cptest.Eventually(t, what, cond)
}

func status(t *testing.T, url string, want int) func() (bool, string) {
	return func() (bool, string) {
		code, body := call(t, http.MethodGet, url, "")
		return code == want, fmt.Sprintf("%d %s", code, body)
	}
}

// zoneToken asks the global for a zone CP token.
func zoneToken(t *testing.T, global *cptest.CP, zone string) string {
	t.Helper()
	return cptest.ZoneToken(t, global, zone)
}

type names struct {
	Items []struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"items"`
}

func listNames(t *testing.T, url string) []string {
	t.Helper()
	var n names
	if err := json.Unmarshal([]byte(mustCall(t, http.MethodGet, url, "", http.StatusOK)), &n); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range n.Items {
		out = append(out, it.Name)
	}
	return out
}

// zoneOnline reads the global's view of a zone from its ZoneInsight.
func zoneOnline(t *testing.T, global *cptest.CP, zone string) (bool, string) {
	t.Helper()
	return cptest.ZoneOnline(t, global, zone)
}

const dataplane = `{"type":"Dataplane","mesh":"demo","name":"backend-1","networking":{"address":"127.0.0.1",
"inbound":[{"port":8080,"servicePort":18080,"tags":{"kuma.io/service":"backend","kuma.io/protocol":"http"}}]}}`

type topology struct {
	global, z1, z2 *cptest.CP
	port           int
}

func startTopology(t *testing.T, relay1 string) *topology {
	t.Helper()
	port := cptest.FreePort(t)
	g := cptest.Start(t, "", cptest.Global(port))
	t1, t2 := zoneToken(t, g, "zone-1"), zoneToken(t, g, "zone-2")
	addr1 := port
	if relay1 != "" {
		_, p, _ := net.SplitHostPort(relay1)
		fmt.Sscan(p, &addr1)
	}
	z1 := cptest.Start(t, "", cptest.Zone("zone-1", addr1, g.KDSCACertFile(), t1))
	z2 := cptest.Start(t, "", cptest.Zone("zone-2", port, g.KDSCACertFile(), t2))
	for _, z := range []string{"zone-1", "zone-2"} {
		eventually(t, z+" online on the global", func() (bool, string) { return zoneOnline(t, g, z) })
	}
	return &topology{global: g, z1: z1, z2: z2, port: port}
}

func TestMultizone(t *testing.T) {
	topo := startTopology(t, "")
	g, z1, z2 := topo.global, topo.z1, topo.z2

	// Global -> zones: a mesh and a policy written on the global reach both zones.
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo", `{"type":"Mesh","name":"demo"}`, http.StatusCreated)
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo/meshtrafficpermissions/allow-all",
		`{"type":"MeshTrafficPermission","mesh":"demo","name":"allow-all","spec":{"targetRef":{"kind":"Mesh"},
		"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`, http.StatusCreated)
	for _, z := range []*cptest.CP{z1, z2} {
		eventually(t, "policy on a zone", status(t, z.URL+"/meshes/demo/meshtrafficpermissions/allow-all", http.StatusOK))
	}
	body := mustCall(t, http.MethodGet, z1.URL+"/meshes/demo/meshtrafficpermissions/allow-all", "", http.StatusOK)
	if !strings.Contains(compact(body), `"kuma.io/origin":"global"`) {
		t.Errorf("replicated policy lacks kuma.io/origin=global: %s", body)
	}

	// A zone refuses policy and mesh writes; the global refuses dataplane writes.
	code, out := call(t, http.MethodPut, z1.URL+"/meshes/demo/meshtrafficpermissions/local",
		`{"type":"MeshTrafficPermission","mesh":"demo","name":"local","spec":{"targetRef":{"kind":"Mesh"}}}`)
	if code != http.StatusMethodNotAllowed || !strings.Contains(out, "On zone control plane you can only modify zone resources") {
		t.Errorf("policy write on a zone = %d %s, want 405 with Kuma's message", code, out)
	}
	if code, out := call(t, http.MethodPut, z1.URL+"/meshes/other", `{"type":"Mesh","name":"other"}`); code != http.StatusMethodNotAllowed {
		t.Errorf("mesh write on a zone = %d %s, want 405", code, out)
	}
	code, out = call(t, http.MethodPut, g.URL+"/meshes/demo/dataplanes/backend-1", dataplane)
	if code != http.StatusMethodNotAllowed || !strings.Contains(out, "On global control plane you can not modify dataplane resources") {
		t.Errorf("dataplane write on the global = %d %s, want 405", code, out)
	}

	// Zones -> global: two zones register a dataplane with the same name; the global lists
	// both, each unique and findable by the name its zone gave it.
	mustCall(t, http.MethodPut, z1.URL+"/meshes/demo/dataplanes/backend-1", dataplane, http.StatusCreated)
	mustCall(t, http.MethodPut, z2.URL+"/meshes/demo/dataplanes/backend-1", dataplane, http.StatusCreated)
	eventually(t, "both dataplanes on the global", func() (bool, string) {
		got := listNames(t, g.URL+"/meshes/demo/dataplanes")
		return len(got) == 2 && got[0] == "backend-1.zone-1" && got[1] == "backend-1.zone-2", fmt.Sprint(got)
	})
	body = compact(mustCall(t, http.MethodGet, g.URL+"/meshes/demo/dataplanes/backend-1.zone-2", "", http.StatusOK))
	for _, want := range []string{`"kuma.io/display-name":"backend-1"`, `"kuma.io/zone":"zone-2"`, `"kuma.io/origin":"zone"`} {
		if !strings.Contains(body, want) {
			t.Errorf("global copy lacks %s: %s", want, body)
		}
	}
	if got := listNames(t, g.URL+"/meshes/demo/dataplanes?filter[labels.kuma.io/zone]=zone-1"); len(got) != 1 {
		t.Errorf("filter by zone label = %v, want one dataplane", got)
	}

	// Deleting a connected zone is refused; once it is gone, deletion removes its copies.
	code, out = call(t, http.MethodDelete, g.URL+"/zones/zone-1", "")
	if code != http.StatusBadRequest || !strings.Contains(out, "unable to delete Zone, Zone CP is still connected, please shut it down first") {
		t.Errorf("delete connected zone = %d %s, want 400 with Kuma's message", code, out)
	}
	z1.Stop(t)
	eventually(t, "zone-1 offline", func() (bool, string) {
		on, body := zoneOnline(t, g, "zone-1")
		return !on, body
	})
	mustCall(t, http.MethodDelete, g.URL+"/zones/zone-1", "", http.StatusOK)
	eventually(t, "zone-1's dataplane gone from the global", func() (bool, string) {
		got := listNames(t, g.URL+"/meshes/demo/dataplanes")
		return len(got) == 1 && got[0] == "backend-1.zone-2", fmt.Sprint(got)
	})
}

// relay is a loopback TCP proxy the test can cut and restore, standing for the network
// between a zone and the global.
type relay struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
	wg    sync.WaitGroup
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		r.setCut(true)
		r.wg.Wait()
	})
	return r
}

func (r *relay) Addr() string { return r.ln.Addr().String() }

func (r *relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.cut {
			r.mu.Unlock()
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", r.target)
		if err != nil {
			r.mu.Unlock()
			_ = c.Close()
			continue
		}
		r.conns = append(r.conns, c, up)
		r.mu.Unlock()
		r.wg.Add(2)
		go r.pipe(c, up)
		go r.pipe(up, c)
	}
}

func (r *relay) pipe(dst, src net.Conn) {
	defer r.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}

// toggle flips the relay between cut and through.
func (r *relay) toggle() {
	r.mu.Lock()
	cut := !r.cut
	r.mu.Unlock()
	r.setCut(cut)
}

// setCut drops every connection and refuses new ones (true), or lets them through (false).
func (r *relay) setCut(cut bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = cut
	if cut {
		for _, c := range r.conns {
			_ = c.Close()
		}
		r.conns = nil
	}
}

func dataplaneNamed(name string) string {
	return strings.Replace(dataplane, `"name":"backend-1"`, fmt.Sprintf("%q:%q", "name", name), 1)
}

func policy(name, action string) string {
	return fmt.Sprintf(`{"type":"MeshTrafficPermission","mesh":"demo","name":%q,"spec":{"targetRef":{"kind":"Mesh"},
		"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":%q}}]}}`, name, action)
}

// revisionCount counts a resource's revisions in a CP's history.
func revisionCount(t *testing.T, url string) int {
	t.Helper()
	var h struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal([]byte(mustCall(t, http.MethodGet, url, "", http.StatusOK)), &h); err != nil {
		t.Fatal(err)
	}
	return h.Total
}

// Seed "Failure modes" 1: with the global offline, zones keep working on their own and the
// global catches up with what happened meanwhile when it returns.
func TestGlobalOffline(t *testing.T) {
	topo := startTopology(t, "")
	g, z1, z2 := topo.global, topo.z1, topo.z2
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo", `{"type":"Mesh","name":"demo"}`, http.StatusCreated)
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo/meshtrafficpermissions/allow", policy("allow", "Allow"), http.StatusCreated)
	for _, z := range []*cptest.CP{z1, z2} {
		eventually(t, "policy on a zone", status(t, z.URL+"/meshes/demo/meshtrafficpermissions/allow", http.StatusOK))
	}

	dataDir := g.Config.DataDir
	g.Stop(t)
	// Zones keep serving what they have and accept their own changes.
	mustCall(t, http.MethodPut, z1.URL+"/meshes/demo/dataplanes/during-outage", dataplaneNamed("during-outage"), http.StatusCreated)
	mustCall(t, http.MethodGet, z1.URL+"/meshes/demo/meshtrafficpermissions/allow", "", http.StatusOK)
	mustCall(t, http.MethodPut, z2.URL+"/meshes/demo/dataplanes/z2-dp", dataplaneNamed("z2-dp"), http.StatusCreated)

	g = cptest.Start(t, dataDir, cptest.Global(topo.port))
	eventually(t, "global caught up with both zones", func() (bool, string) {
		got := listNames(t, g.URL+"/meshes/demo/dataplanes")
		return len(got) == 2 && got[0] == "during-outage.zone-1" && got[1] == "z2-dp.zone-2", fmt.Sprint(got)
	})
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo/meshtrafficpermissions/after", policy("after", "Deny"), http.StatusCreated)
	for _, z := range []*cptest.CP{z1, z2} {
		eventually(t, "new policy on a zone", status(t, z.URL+"/meshes/demo/meshtrafficpermissions/after", http.StatusOK))
	}
}

// Seed "Failure modes" 3: with the link cut, the zone operates normally; changes made on
// either side meanwhile arrive once the link is back, none lost and none applied twice.
func TestLinkCut(t *testing.T) {
	port := cptest.FreePort(t)
	r := newRelay(t, fmt.Sprintf("127.0.0.1:%d", port))
	g := cptest.Start(t, "", cptest.Global(port))
	_, rp, _ := net.SplitHostPort(r.Addr())
	var relayPort int
	fmt.Sscan(rp, &relayPort)
	z1 := cptest.Start(t, "", cptest.Zone("zone-1", relayPort, g.KDSCACertFile(), zoneToken(t, g, "zone-1")))
	eventually(t, "zone-1 online", func() (bool, string) { return zoneOnline(t, g, "zone-1") })
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo", `{"type":"Mesh","name":"demo"}`, http.StatusCreated)
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo/meshtrafficpermissions/p", policy("p", "Allow"), http.StatusCreated)
	eventually(t, "policy on zone-1", status(t, z1.URL+"/meshes/demo/meshtrafficpermissions/p", http.StatusOK))

	r.setCut(true)
	eventually(t, "zone-1 offline on the global", func() (bool, string) {
		on, body := zoneOnline(t, g, "zone-1")
		return !on, body
	})
	// Changes on both sides while cut.
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo/meshtrafficpermissions/p", policy("p", "Deny"), http.StatusOK)
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo/meshtrafficpermissions/q", policy("q", "Allow"), http.StatusCreated)
	mustCall(t, http.MethodPut, z1.URL+"/meshes/demo/dataplanes/cut", dataplaneNamed("cut"), http.StatusCreated)
	mustCall(t, http.MethodGet, z1.URL+"/meshes/demo/dataplanes/cut", "", http.StatusOK)

	r.setCut(false)
	eventually(t, "zone-1 has the changes made during the cut", func() (bool, string) {
		code, body := call(t, http.MethodGet, z1.URL+"/meshes/demo/meshtrafficpermissions/p", "")
		code2, _ := call(t, http.MethodGet, z1.URL+"/meshes/demo/meshtrafficpermissions/q", "")
		return code == http.StatusOK && strings.Contains(compact(body), `"action":"Deny"`) && code2 == http.StatusOK, body
	})
	eventually(t, "global has the zone's dataplane", status(t, g.URL+"/meshes/demo/dataplanes/cut.zone-1", http.StatusOK))
	// Exactly once: the zone's copy of the global's log holds the same events, no more.
	want := revisionCount(t, g.URL+"/meshes/demo/meshtrafficpermissions/p/_history")
	got := revisionCount(t, z1.URL+"/meshes/demo/meshtrafficpermissions/p/_history")
	if want != 2 || got != want {
		t.Errorf("revisions of p: global %d, zone %d; want 2 on both", want, got)
	}
}

// A disabled zone is cut off and refused until it is enabled again.
func TestZoneDisabled(t *testing.T) {
	topo := startTopology(t, "")
	g := topo.global
	mustCall(t, http.MethodPut, g.URL+"/zones/zone-1", `{"type":"Zone","name":"zone-1","enabled":false}`, http.StatusOK)
	eventually(t, "disabled zone-1 offline", func() (bool, string) {
		on, body := zoneOnline(t, g, "zone-1")
		return !on, body
	})
	// It keeps being refused: still offline a few reconcile rounds later, zone-2 unaffected.
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo", `{"type":"Mesh","name":"demo"}`, http.StatusCreated)
	eventually(t, "mesh on zone-2", status(t, topo.z2.URL+"/meshes/demo", http.StatusOK))
	if on, body := zoneOnline(t, g, "zone-1"); on {
		t.Fatalf("disabled zone-1 came back online: %s", body)
	}
	if code, _ := call(t, http.MethodGet, topo.z1.URL+"/meshes/demo", ""); code != http.StatusNotFound {
		t.Errorf("disabled zone-1 received a mesh created after it was disabled (GET = %d)", code)
	}
	mustCall(t, http.MethodPut, g.URL+"/zones/zone-1", `{"type":"Zone","name":"zone-1","enabled":true}`, http.StatusOK)
	eventually(t, "re-enabled zone-1 online", func() (bool, string) { return zoneOnline(t, g, "zone-1") })
	eventually(t, "mesh on zone-1 after re-enabling", status(t, topo.z1.URL+"/meshes/demo", http.StatusOK))
}

// A zone link with a token for another zone, or no valid token, is refused.
func TestZoneTokenChecked(t *testing.T) {
	port := cptest.FreePort(t)
	g := cptest.Start(t, "", cptest.Global(port))
	wrong := zoneToken(t, g, "zone-2")
	z := cptest.Start(t, "", cptest.Zone("zone-1", port, g.KDSCACertFile(), wrong))
	// The zone itself runs (a federated zone works without its global), but never links.
	mustCall(t, http.MethodGet, z.URL+"/", "", http.StatusOK)
	eventually(t, "the global refused zone-1's link", func() (bool, string) {
		body := compact(mustCall(t, http.MethodGet, g.URL+"/_replication", "", http.StatusOK))
		return strings.Contains(body, `"zone-1":{"count":`) && strings.Contains(body, "tokenisforzone"), body
	})
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo", `{"type":"Mesh","name":"demo"}`, http.StatusCreated)
	code, body := call(t, http.MethodGet, g.URL+"/zones/zone-1", "")
	if code != http.StatusNotFound {
		t.Errorf("zone with a wrong token was registered: %d %s", code, body)
	}
	if code, _ := call(t, http.MethodGet, z.URL+"/meshes/demo", ""); code != http.StatusNotFound {
		t.Errorf("zone with a wrong token received the global's mesh")
	}
	code, body = call(t, http.MethodPost, g.URL+"/tokens/zone", `{"zone":"Bad_Name","scope":["cp"]}`)
	if code != http.StatusBadRequest {
		t.Errorf("token for an invalid zone name = %d %s, want 400", code, body)
	}

	// A token on the revocation list (the GlobalSecret zone-token-revocations, as in Kuma)
	// links no zone.
	revoked := zoneToken(t, g, "zone-3")
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(revoked, &claims); err != nil {
		t.Fatal(err)
	}
	mustCall(t, http.MethodPut, g.URL+"/globalsecrets/zone-token-revocations", fmt.Sprintf(
		`{"type":"GlobalSecret","name":"zone-token-revocations","data":%q}`, base64.StdEncoding.EncodeToString([]byte(claims.ID))),
		http.StatusCreated)
	cptest.Start(t, "", cptest.Zone("zone-3", port, g.KDSCACertFile(), revoked))
	eventually(t, "the global refused zone-3's revoked token", func() (bool, string) {
		body := compact(mustCall(t, http.MethodGet, g.URL+"/_replication", "", http.StatusOK))
		return strings.Contains(body, `"zone-3":{"count":`) && strings.Contains(body, "revoked"), body
	})
}
