package core_test

import (
	"testing"

	"github.com/jetmesh/jetmesh/resources/core"
)

// Kuma 2.14's VirtualOutbound validator cases and messages.
func TestVirtualOutboundValidation(t *testing.T) {
	runValidation(t, core.VirtualOutboundType, []validationCase{
		{name: "valid", doc: `
      selectors:
      - match:
          kuma.io/service: "*"
      conf:
        host: "{{.service}}.{{.version}}.mesh"
        port: "{{.port}}"
        parameters:
        - name: service
          tagKey: kuma.io/service
        - name: version
        - name: port
          tagKey: port`},
		{name: "empty", doc: ``, want: []v{
			{"selectors", "must have at least one element"},
			{"conf", "has to be defined"},
		}},
		{name: "bad parameters and templates", doc: `
      selectors:
      - match: {}
      conf:
        host: "{{.service}}.mesh:"
        port: "x{{.service}}"
        parameters:
        - name: service
          tagKey: "bad key!"
        - name: service
        - name: "not-alnum"`, want: []v{
			{"selectors[0].match", "must have at least one tag"},
			{"conf.parameters[0].tagKey", "must be a valid tag name"},
			{"conf.parameters[1].name", "name is already used"},
			{"conf.parameters[2].name", "must consist of alphanumeric characters to be used as a gotemplate key"},
			{"conf.parameters", "must contain a parameter with kuma.io/service as a tagKey"},
			{"conf.host", `template pre evaluation failed with error="evaluation of template with parameters didn't return a valid dns name result=\"dummy.mesh:\""`},
			{"conf.port", `template pre evaluation failed with error="evaluation of template with parameters didn't evaluate to a parsable number result=\"x1\""`},
		}},
	})
}

// The templates render a proxy's tags; selectors rank exact matches above wildcards.
func TestVirtualOutboundEval(t *testing.T) {
	vo := &core.VirtualOutbound{
		Selectors: []core.Selector{{Match: map[string]string{"kuma.io/service": "*"}}, {Match: map[string]string{"kuma.io/service": "backend"}}},
		Conf: &core.VirtualOutboundConf{Host: "{{.svc}}.{{.v}}.mesh", Port: "{{.p}}", Parameters: []core.VirtualOutboundParameter{
			{Name: "svc", TagKey: "kuma.io/service"}, {Name: "v", TagKey: "version"}, {Name: "p", TagKey: "port"}}},
	}
	tags := map[string]string{"kuma.io/service": "backend", "version": "v2", "port": "8080", "team": "x"}
	host, err := vo.EvalHost(tags)
	if err != nil || host != "backend.v2.mesh" {
		t.Errorf("host %q (%v)", host, err)
	}
	port, err := vo.EvalPort(tags)
	if err != nil || port != 8080 {
		t.Errorf("port %d (%v)", port, err)
	}
	if got := vo.FilterTags(tags); len(got) != 3 || got["team"] != "" {
		t.Errorf("filtered tags %v", got)
	}
	if e, w, ok := vo.Match(tags); !ok || e != 1 || w != 0 {
		t.Errorf("match backend: %d exact, %d wildcard, %v", e, w, ok)
	}
	if e, w, ok := vo.Match(map[string]string{"kuma.io/service": "web"}); !ok || e != 0 || w != 1 {
		t.Errorf("match web: %d exact, %d wildcard, %v", e, w, ok)
	}
	if _, _, ok := vo.Match(map[string]string{"version": "v1"}); ok {
		t.Error("matched tags without kuma.io/service")
	}
	if _, err := vo.EvalPort(map[string]string{"port": "70000"}); err == nil {
		t.Error("port 70000 accepted")
	}
}
