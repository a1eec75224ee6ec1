package resources_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/policies"
)

// wireRow is one row of the type table in the wire reference (testdata copy).
type wireRow struct {
	scope, wsPath, arg, short string
	plugin, policy, targetRef bool
	kds                       int
}

func readWireTable(t *testing.T) map[string]wireRow {
	t.Helper()
	f, err := os.Open("testdata/kuma-2.14.3-types.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags := map[string]int{
		"ConsumedByZone": resources.ConsumedByZone, "ConsumedByGlobal": resources.ConsumedByGlobal,
		"ProvidedByZone": resources.ProvidedByZone, "ProvidedByGlobal": resources.ProvidedByGlobal,
		"SyncedAcrossZones": resources.SyncedAcrossZones,
	}
	rows := map[string]wireRow{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| Type ") {
			continue
		}
		// The KDS column itself contains '|': split the fixed columns around it.
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) < 11 {
			t.Fatalf("bad row %q", line)
		}
		kds := 0
		for _, name := range cells[8 : len(cells)-2] {
			bit, ok := flags[name]
			if !ok {
				t.Fatalf("row %q: unknown KDS flag %q", line, name)
			}
			kds |= bit
		}
		rows[cells[0]] = wireRow{
			scope: cells[1], wsPath: cells[2], arg: cells[3], short: cells[4],
			plugin: cells[5] == "true", policy: cells[6] == "true", targetRef: cells[7] == "true", kds: kds,
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) < 50 {
		t.Fatalf("parsed only %d rows", len(rows))
	}
	return rows
}

func allDescriptors() []*resources.Descriptor {
	return append(core.Descriptors(), policies.Descriptors()...)
}

func TestAllDescriptorsBuildARegistry(t *testing.T) {
	reg, err := resources.NewRegistry(allDescriptors()...)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	if got, want := len(reg.All()), len(allDescriptors()); got != want {
		t.Fatalf("registry has %d types, want %d", got, want)
	}
	for _, d := range allDescriptors() {
		if byPath, ok := reg.ByPath(d.WsPath); d.WsPath != "" && (!ok || byPath != d) {
			t.Errorf("%s: ByPath(%q) = %v", d.Name, d.WsPath, byPath)
		}
		if _, ok := reg.ByPath(""); ok {
			t.Errorf("the empty path resolves to a type")
		}
		for _, arg := range []string{d.SingularName, d.PluralName, d.ShortName} {
			if arg == "" {
				continue
			}
			if got, ok := reg.ByArg(arg); !ok || got != d {
				t.Errorf("%s: ByArg(%q) = %v", d.Name, arg, got)
			}
		}
		if d.NewSpec() == nil {
			t.Errorf("%s: NewSpec returned nil", d.Name)
		}
	}
}

func TestDescriptorsMatchKumaTypeTable(t *testing.T) {
	rows := readWireTable(t)
	// kumactl's list arguments (the table only has the singular; these come from §3d).
	plural := map[string]string{
		"Mesh": "meshes", "Dataplane": "dataplanes", "ZoneIngress": "zoneingresses",
		"ZoneEgress": "zoneegresses", "Zone": "zones", "Secret": "secrets", "GlobalSecret": "globalsecrets",
		"MeshTrafficPermission": "meshtrafficpermissions",
	}
	for _, d := range allDescriptors() {
		t.Run(d.Name, func(t *testing.T) {
			row, ok := rows[d.Name]
			if !ok {
				t.Fatalf("%s is not a Kuma 2.14.3 type", d.Name)
			}
			scope := map[resources.Scope]string{resources.ScopeMesh: "Mesh", resources.ScopeGlobal: "Global"}[d.Scope]
			checks := []struct {
				what      string
				got, want any
			}{
				{"scope", scope, row.scope},
				{"wsPath", d.WsPath, row.wsPath},
				{"kumactl arg", d.SingularName, row.arg},
				{"short name", d.ShortName, row.short},
				{"plugin", d.Plugin, row.plugin},
				{"policy", d.Policy, row.policy},
				{"targetRef", d.TargetRef, row.targetRef},
				{"KDS flags", d.KDSFlags, row.kds},
				{"internal", d.Internal, row.arg == ""},
			}
			if p, ok := plural[d.Name]; ok {
				checks = append(checks, struct {
					what      string
					got, want any
				}{"kumactl list arg", d.PluralName, p})
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, Kuma 2.14.3 has %v", c.what, c.got, c.want)
				}
			}
		})
	}
}
