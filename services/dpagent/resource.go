package dpagent

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

// Resource is the proxy's own resource from --dataplane-file or --dataplane (the direct
// lifecycle): the control plane creates it when the proxy connects.
type Resource struct {
	Type string
	Mesh string
	Name string
	// JSON is the rendered resource as JSON, sent as the request's dataplaneResource.
	JSON []byte
	// TransparentProxying tells whether a Dataplane redirects its outbound traffic
	// (networking.transparentProxying.redirectPortOutbound), and so its DNS.
	TransparentProxying bool
	// IPFamilyMode is networking.transparentProxying.ipFamilyMode (DualStack or IPv4).
	IPFamilyMode string
}

var resourceTypes = map[string]string{
	bootstrap.ProxyTypeDataplane: "Dataplane",
	bootstrap.ProxyTypeIngress:   "ZoneIngress",
	bootstrap.ProxyTypeEgress:    "ZoneEgress",
}

// LoadResource reads, renders and checks the resource template named by the config; nil
// when there is none (the indirect lifecycle).
func LoadResource(c *Config, stdin io.Reader) (*Resource, error) {
	var src []byte
	var err error
	origin := "--dataplane"
	switch c.ResourcePath {
	case "":
		src = []byte(c.Resource)
	case "-":
		origin = "--dataplane-file -"
		if src, err = io.ReadAll(stdin); err != nil {
			return nil, fmt.Errorf("%s: read stdin: %w", origin, err)
		}
	default:
		origin = "--dataplane-file " + c.ResourcePath
		if src, err = os.ReadFile(c.ResourcePath); err != nil {
			return nil, fmt.Errorf("--dataplane-file: %w", err)
		}
	}
	if len(src) == 0 {
		return nil, nil
	}
	rendered, err := Render(string(src), c.ResourceVars)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	r, err := parseResource(rendered, c.ProxyType)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	return r, nil
}

func parseResource(rendered []byte, proxyType string) (*Resource, error) {
	j, err := yaml.YAMLToJSON(rendered)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML after rendering: %w", err)
	}
	var obj map[string]any
	if err := json.Unmarshal(j, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("want a YAML or JSON object with type, mesh and name")
	}
	field := func(k string) (string, error) {
		switch v := obj[k].(type) {
		case nil:
			return "", nil
		case string:
			return v, nil
		default:
			return "", fmt.Errorf("%s must be a string, got %v", k, v)
		}
	}
	r := &Resource{}
	for k, dst := range map[string]*string{"type": &r.Type, "mesh": &r.Mesh, "name": &r.Name} {
		if *dst, err = field(k); err != nil {
			return nil, err
		}
	}
	if want := resourceTypes[proxyType]; r.Type != want {
		return nil, fmt.Errorf("invalid proxy resource type %q, expected %s for --proxy-type %s", r.Type, want, proxyType)
	}
	if r.Name == "" {
		return nil, fmt.Errorf("name must not be empty")
	}
	if r.Mesh == "" && r.Type == "Dataplane" {
		return nil, fmt.Errorf("mesh must not be empty")
	}
	if r.JSON, err = json.Marshal(obj); err != nil {
		return nil, err
	}
	r.TransparentProxying, r.IPFamilyMode = transparentProxying(obj)
	return r, nil
}

func transparentProxying(obj map[string]any) (bool, string) {
	networking, _ := obj["networking"].(map[string]any)
	tp, _ := networking["transparentProxying"].(map[string]any)
	if tp == nil {
		return false, ""
	}
	port, _ := tp["redirectPortOutbound"].(float64)
	mode, _ := tp["ipFamilyMode"].(string)
	return port != 0, mode
}
