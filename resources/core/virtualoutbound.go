package core

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/jetmesh/jetmesh/resources"
)

// VirtualOutbound is the spec of a VirtualOutbound (kuma.mesh.v1alpha1.VirtualOutbound): the
// hostnames and ports transparent proxies reach services under, besides "<service>.mesh:80".
// Each dataplane inbound (and each service another zone's ingress offers) that a selector
// matches gets the name conf.host and port conf.port, Go templates over the parameters, which
// name tags.
type VirtualOutbound struct {
	Selectors []Selector           `json:"selectors,omitempty"`
	Conf      *VirtualOutboundConf `json:"conf,omitempty"`
}

// Selector matches proxies by tags (Kuma's legacy policy selector).
type Selector struct {
	Match map[string]string `json:"match,omitempty"`
}

// VirtualOutboundConf is the templates and their parameters.
type VirtualOutboundConf struct {
	Host       string                     `json:"host,omitempty"`
	Port       string                     `json:"port,omitempty"`
	Parameters []VirtualOutboundParameter `json:"parameters,omitempty"`
}

// VirtualOutboundParameter makes tag TagKey (or tag Name, without TagKey) available to the
// templates as {{.Name}}.
type VirtualOutboundParameter struct {
	Name   string `json:"name,omitempty"`
	TagKey string `json:"tagKey,omitempty"`
}

const hasToBeDefined = "has to be defined"

var parameterName = regexp.MustCompile(`^[a-zA-Z0-9]+$`)

// tagNameCharset is Kuma's tag-name character set.
var tagNameCharset = regexp.MustCompile(`^[a-zA-Z0-9.\-_:/]*$`)

// Validate implements resources.Spec with Kuma's rules and messages.
func (v *VirtualOutbound) Validate() resources.ValidationError {
	var errs resources.ValidationError
	sel := resources.Root().Field("selectors")
	if len(v.Selectors) == 0 {
		errs.AddViolation(sel, "must have at least one element")
	}
	for i, s := range v.Selectors {
		errs.Add(resources.ValidateSelector(sel.Index(i).Field("match"), s.Match, resources.TagsOptions{RequireAtLeastOne: true}))
	}
	conf := resources.Root().Field("conf")
	if v.Conf == nil {
		errs.AddViolation(conf, hasToBeDefined)
		return errs
	}
	params := conf.Field("parameters")
	hasService, seen := false, map[string]bool{}
	for i, p := range v.Conf.Parameters {
		at := params.Index(i)
		if seen[p.Name] {
			errs.AddViolation(at.Field("name"), "name is already used")
		}
		seen[p.Name] = true
		if p.TagKey != "" {
			hasService = hasService || p.TagKey == resources.TagService
			if !tagNameCharset.MatchString(p.TagKey) {
				errs.AddViolation(at.Field("tagKey"), "must be a valid tag name")
			}
		} else if !tagNameCharset.MatchString(p.Name) {
			errs.AddViolation(at.Field("name"), "must be a valid tag name if you are not setting tagKey")
		}
		if !parameterName.MatchString(p.Name) {
			errs.AddViolation(at.Field("name"), "must consist of alphanumeric characters to be used as a gotemplate key")
		}
	}
	if !hasService {
		errs.AddViolation(params, fmt.Sprintf("must contain a parameter with %s as a tagKey", resources.TagService))
	}
	for _, f := range []struct {
		field, tmpl, dummy string
		eval               func(map[string]string) error
	}{
		{"host", v.Conf.Host, "dummy", func(tags map[string]string) error { _, err := v.EvalHost(tags); return err }},
		{"port", v.Conf.Port, "1", func(tags map[string]string) error { _, err := v.EvalPort(tags); return err }},
	} {
		if f.tmpl == "" {
			errs.AddViolation(conf.Field(f.field), hasToBeDefined)
			continue
		}
		fake := map[string]string{}
		for _, p := range v.Conf.Parameters {
			fake[p.tagKey()] = f.dummy
		}
		if err := f.eval(fake); err != nil {
			errs.AddViolation(conf.Field(f.field), fmt.Sprintf("template pre evaluation failed with error=%q", err.Error()))
		}
	}
	return errs
}

func (p VirtualOutboundParameter) tagKey() string {
	if p.TagKey == "" {
		return p.Name
	}
	return p.TagKey
}

func (v *VirtualOutbound) eval(tmpl string, tags map[string]string) (string, error) {
	entries := map[string]string{}
	for _, p := range v.Conf.Parameters {
		if val, ok := tags[p.tagKey()]; ok {
			entries[p.Name] = val
		}
	}
	t, err := template.New("").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("failed compiling gotemplate error=%q", err.Error())
	}
	var sb strings.Builder
	if err := t.Execute(&sb, entries); err != nil {
		return "", fmt.Errorf("pre evaluation of template with parameters failed with error=%q", err.Error())
	}
	return sb.String(), nil
}

// EvalHost renders the host template for a proxy's tags; it must give a DNS name.
func (v *VirtualOutbound) EvalHost(tags map[string]string) (string, error) {
	s, err := v.eval(v.Conf.Host, tags)
	if err != nil {
		return "", err
	}
	if !isDNSName(s) {
		return "", fmt.Errorf("evaluation of template with parameters didn't return a valid dns name result=%q", s)
	}
	return s, nil
}

// EvalPort renders the port template for a proxy's tags; it must give a port number.
func (v *VirtualOutbound) EvalPort(tags map[string]string) (uint32, error) {
	s, err := v.eval(v.Conf.Port, tags)
	if err != nil {
		return 0, err
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("evaluation of template with parameters didn't evaluate to a parsable number result=%q", s)
	}
	if i <= 0 || i > 65535 {
		return 0, fmt.Errorf("evaluation of template returned a port outside of the range [1..65535] result=%d", i)
	}
	return uint32(i), nil
}

// FilterTags keeps the tags the parameters name: the tag set the generated outbound selects.
func (v *VirtualOutbound) FilterTags(tags map[string]string) map[string]string {
	out := map[string]string{}
	for _, p := range v.Conf.Parameters {
		if val, ok := tags[p.tagKey()]; ok {
			out[p.tagKey()] = val
		}
	}
	return out
}

// Match returns how well the policy's best selector matches tags (exact, wildcard tag
// counts; Kuma's TagSelectorRank) and whether any does.
func (v *VirtualOutbound) Match(tags map[string]string) (exact, wildcard int, ok bool) {
	for _, s := range v.Selectors {
		e, w, match := 0, 0, len(s.Match) > 0
		for k, want := range s.Match {
			got, has := tags[k]
			switch {
			case want == "*" && has:
				w++
			case has && got == want:
				e++
			default:
				match = false
			}
		}
		if match && (!ok || e > exact || e == exact && w > wildcard) {
			exact, wildcard, ok = e, w, true
		}
	}
	return exact, wildcard, ok
}
