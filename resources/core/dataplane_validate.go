package core

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/jetmesh/jetmesh/resources"
)

// Kinds an outbound backendRef (and a reachable backend) may name, sorted as Kuma prints them.
var backendRefKinds = []string{"MeshExternalService", "MeshMultiZoneService", "MeshService"}

var loopback = net.IPv4(127, 0, 0, 1)

// Validate implements resources.Spec with the rules of Kuma 2.14's DataplaneResource.Validate.
// In 2.14 inbound tags are optional (a Dataplane may rely on MeshServices), but an inbound that
// has tags must have kuma.io/service.
func (d *Dataplane) Validate() resources.ValidationError {
	var v resources.ValidationError
	netPath := resources.FieldPath("networking")
	n := d.Networking
	if n == nil {
		v.AddViolation(netPath, "must be defined")
		return v
	}
	if n.Admin != nil {
		port := netPath.Field("admin").Field("port")
		if n.usesInbound(loopback, n.Admin.Port) {
			v.AddViolation(port, "must differ from inbound")
		}
		if n.usesOutbound(loopback, n.Admin.Port) {
			v.AddViolation(port, "must differ from outbound")
		}
	}
	switch {
	case d.IsDelegatedGateway():
		if len(n.Inbound) > 0 {
			v.AddViolation(netPath.Field("inbound"), "inbound cannot be defined for delegated gateways")
		}
		if len(n.Listeners) > 0 {
			v.AddViolation(netPath.Field("listeners"), "listeners cannot be defined for delegated gateways")
		}
		v.AddErrorAt(netPath.Field("gateway"), validateGateway(n.Gateway))
		v.Add(validateNetworking(n))
		v.Add(validateProbes(d.Probes))
	case d.IsBuiltinGateway():
		if len(n.Inbound) > 0 {
			v.AddViolation(netPath.Field("inbound"), "inbound cannot be defined for builtin gateways")
		}
		if len(n.Outbound) > 0 {
			v.AddViolation(netPath.Field("outbound"), "outbound cannot be defined for builtin gateways")
		}
		if len(n.Listeners) > 0 {
			v.AddViolation(netPath.Field("listeners"), "listeners cannot be defined for builtin gateways")
		}
		if d.Probes != nil {
			v.AddViolation(netPath.Field("probes"), "probes cannot be defined for builtin gateways")
		}
		v.AddErrorAt(netPath.Field("gateway"), validateGateway(n.Gateway))
		v.Add(validateNetworking(n))
	default:
		v.Add(validateNetworking(n))
		v.Add(validateProbes(d.Probes))
		if d.Metrics != nil {
			v.Add(validateMetricsBackend(resources.FieldPath("metrics"), d.Metrics))
		}
		v.AddErrorAt(netPath.Field("listeners"), validateListeners(n))
	}
	return v
}

func validateNetworking(n *DataplaneNetworking) resources.ValidationError {
	var v resources.ValidationError
	p := resources.FieldPath("networking")
	v.Add(validateAddress(p.Field("address"), n.Address))
	for i := range n.Inbound {
		in := &n.Inbound[i]
		at := p.Field("inbound").Index(i)
		v.AddErrorAt(at, validateInbound(in, n.Address))
		if len(in.Tags) > 0 {
			if _, ok := in.Tags[resources.TagService]; !ok {
				v.AddViolation(at.Field("tags").Key(resources.TagService), "tag has to exist")
			}
		}
	}
	for i := range n.Outbound {
		v.AddErrorAt(p.Field("outbound").Index(i), validateOutbound(&n.Outbound[i]))
	}
	// Kuma spells this path "transparentProxing"; users see it in errors, so we do too.
	v.AddErrorAt(p.Field("transparentProxing"), validateTransparentProxying(n.TransparentProxying))
	return v
}

func validateAddress(p resources.Path, address string) resources.ValidationError {
	var v resources.ValidationError
	if address == "" {
		v.AddViolation(p, "address can't be empty")
		return v
	}
	if address == "0.0.0.0" || address == "::" {
		v.AddViolation(p, "must not be 0.0.0.0 or ::")
	}
	if net.ParseIP(address) == nil && !isDNSName(address) {
		v.AddViolation(p, "address has to be valid IP address or domain name")
	}
	return v
}

var dnsNameRegexp = regexp.MustCompile(`^([a-zA-Z0-9_]{1}[a-zA-Z0-9_-]{0,62}){1}(\.[a-zA-Z0-9_]{1}[a-zA-Z0-9_-]{0,62})*[\._]?$`)

// isDNSName is govalidator's IsDNSName, which Kuma uses for addresses: not an IP, at most 255
// characters without dots, labels of letters, digits, '_' and '-'.
func isDNSName(s string) bool {
	if s == "" || len(strings.ReplaceAll(s, ".", "")) > 255 {
		return false
	}
	return net.ParseIP(s) == nil && dnsNameRegexp.MatchString(s)
}

func validateInbound(in *Inbound, dpAddress string) resources.ValidationError {
	var v resources.ValidationError
	v.Add(resources.ValidatePort(resources.FieldPath("port"), in.Port))
	if in.ServicePort != 0 {
		v.Add(resources.ValidatePort(resources.FieldPath("servicePort"), in.ServicePort))
	}
	serviceAddress := resources.FieldPath("serviceAddress")
	samePort := in.ServicePort == 0 || in.ServicePort == in.Port
	if in.ServiceAddress != "" {
		if net.ParseIP(in.ServiceAddress) == nil {
			v.AddViolation(serviceAddress, "serviceAddress has to be valid IP address")
		}
		if in.ServiceAddress == dpAddress && samePort {
			v.AddViolation(serviceAddress, "serviceAddress and servicePort has to differ from address and port")
		}
	}
	if in.Address != "" {
		if net.ParseIP(in.Address) == nil {
			v.AddViolation(resources.FieldPath("address"), "address has to be valid IP address")
		}
		if in.Address == in.ServiceAddress && samePort {
			v.AddViolation(serviceAddress, "serviceAddress and servicePort has to differ from address and port")
		}
	}
	v.Add(resources.ValidateTags(resources.FieldPath("tags"), in.Tags, resources.TagsOptions{
		Extra: []func(resources.Path, map[string]string) resources.ValidationError{validateProtocolTag},
	}))
	if in.Protocol != "" && resources.ParseProtocol(in.Protocol) == "" {
		v.AddViolation(resources.FieldPath("protocol"), fmt.Sprintf("has an invalid value %q. %s",
			in.Protocol, resources.AllowedValuesHint(resources.SupportedProtocols...)))
	}
	v.Add(validateServiceProbe(in.ServiceProbe))
	return v
}

func validateProtocolTag(p resources.Path, tags map[string]string) resources.ValidationError {
	var v resources.ValidationError
	if value, ok := tags[resources.TagProtocol]; ok && resources.ParseProtocol(value) == "" {
		v.AddViolation(p.Key(resources.TagProtocol), fmt.Sprintf("tag %q has an invalid value %q. %s",
			resources.TagProtocol, value, resources.AllowedValuesHint(resources.SupportedProtocols...)))
	}
	return v
}

func validateServiceProbe(sp *ServiceProbe) resources.ValidationError {
	var v resources.ValidationError
	if sp == nil {
		return v
	}
	p := resources.FieldPath("serviceProbe")
	for _, d := range []struct {
		name string
		val  *Duration
	}{{"interval", sp.Interval}, {"timeout", sp.Timeout}} {
		if d.val != nil && *d.val == 0 {
			v.AddViolation(p.Field(d.name), "must have a positive value")
		}
	}
	for _, t := range []struct {
		name string
		val  *uint32
	}{{"unhealthyThreshold", sp.UnhealthyThreshold}, {"healthyThreshold", sp.HealthyThreshold}} {
		if t.val != nil && *t.val == 0 {
			v.AddViolation(p.Field(t.name), "must have a positive value")
		}
	}
	return v
}

func validateOutbound(o *Outbound) resources.ValidationError {
	var v resources.ValidationError
	v.Add(resources.ValidatePort(resources.FieldPath("port"), o.Port))
	if o.Address != "" && net.ParseIP(o.Address) == nil {
		v.AddViolation(resources.FieldPath("address"), "address has to be valid IP address")
	}
	service := o.Tags[resources.TagService]
	switch {
	case o.BackendRef != nil:
		ref := resources.FieldPath("backendRef")
		if !contains(backendRefKinds, o.BackendRef.Kind) {
			v.AddViolation(ref.Field("kind"), "invalid value. Available values are: "+strings.Join(backendRefKinds, ","))
		}
		if o.BackendRef.Name == "" && len(o.BackendRef.Labels) == 0 {
			v.AddViolation(ref, "either 'name' or 'labels' should be specified")
		}
		// A MeshExternalService's port comes from its endpoints.
		if o.BackendRef.Kind != "MeshExternalService" {
			v.Add(resources.ValidatePort(ref.Field("port"), o.BackendRef.Port))
		}
	case len(o.Tags) == 0:
		v.AddViolation(resources.FieldPath("tags"), fmt.Sprintf("mandatory tag %q is missing", resources.TagService))
	default:
		v.Add(resources.ValidateTags(resources.FieldPath("tags"), o.Tags, resources.TagsOptions{RequireService: true}))
	}
	if o.BackendRef != nil && (len(o.Tags) != 0 || service != "") {
		v.AddViolation(resources.FieldPath("backendRef"), "both backendRef and tags/service cannot be defined")
	}
	return v
}

func validateTransparentProxying(tp *TransparentProxying) resources.ValidationError {
	var v resources.ValidationError
	if tp == nil || tp.ReachableBackends == nil {
		return v
	}
	refs := resources.FieldPath("reachableBackends").Field("refs")
	for i, r := range tp.ReachableBackends.Refs {
		at := refs.Index(i)
		if !contains(backendRefKinds, r.Kind) {
			v.AddViolation(at.Field("kind"), "invalid value. Available values are: "+strings.Join(backendRefKinds, ","))
		}
		if r.Name != "" {
			v.AddErrorAt(at.Field("name"), resources.ValidateIdentifier(r.Name))
		}
		if r.Name == "" && r.Namespace == "" && len(r.Labels) == 0 {
			v.AddViolation(at.Field("name"), "name or labels are required")
		}
		if r.Name == "" && r.Namespace != "" {
			v.AddViolation(at.Field("name"), "name is required, when namespace is defined")
		}
		if (r.Name != "" || r.Namespace != "") && len(r.Labels) > 0 {
			v.AddViolation(at.Field("labels"), "labels cannot be defined when name is specified")
		}
	}
	return v
}

// validateListeners returns violations relative to networking.listeners ("[0].port").
func validateListeners(n *DataplaneNetworking) resources.ValidationError {
	var v resources.ValidationError
	names := map[string]bool{}
	for i := range n.Inbound {
		names[n.Inbound[i].SectionName()] = true
	}
	kinds := map[string]ListenerType{}
	for i := range n.Listeners {
		l := &n.Listeners[i]
		at := resources.Root().Index(i)
		if l.Type == ListenerUnspecified {
			v.AddViolation(at.Field("type"), "type must be ZoneIngress or ZoneEgress")
		}
		v.Add(validateAddress(at.Field("address"), l.Address))
		v.Add(resources.ValidatePort(at.Field("port"), l.Port))
		if l.Name != "" {
			if names[l.Name] {
				v.AddViolation(at.Field("name"), fmt.Sprintf("name %q must be unique across inbounds and listeners", l.Name))
			}
			names[l.Name] = true
		}
		key := fmt.Sprintf("%s:%d", l.Address, l.Port)
		if typ, seen := kinds[key]; seen {
			if typ == l.Type {
				v.AddViolation(at, fmt.Sprintf("address:port %s is already used by another listener", key))
			} else {
				v.AddViolation(at, fmt.Sprintf("address:port %s is used by listeners of different types", key))
			}
		} else {
			kinds[key] = l.Type
		}
		for j := range n.Inbound {
			addr := n.Inbound[j].Address
			if addr == "" {
				addr = n.Address
			}
			if fmt.Sprintf("%s:%d", addr, n.Inbound[j].Port) == key {
				v.AddViolation(at, fmt.Sprintf("address:port %s collides with an inbound listener", key))
				break
			}
		}
	}
	return v
}

func validateGateway(g *Gateway) resources.ValidationError {
	protocol := func(p resources.Path, tags map[string]string) resources.ValidationError {
		var v resources.ValidationError
		if value, ok := tags[resources.TagProtocol]; ok && resources.ParseProtocol(value) != "tcp" {
			v.AddViolation(p.Key(resources.TagProtocol),
				fmt.Sprintf("other values than tcp are not allowed, provided value %q", value))
		}
		return v
	}
	// Without tags (MeshService-based gateways) kuma.io/service is not required.
	return resources.ValidateTags(resources.FieldPath("tags"), g.Tags, resources.TagsOptions{
		RequireService: len(g.Tags) > 0,
		Extra:          []func(resources.Path, map[string]string) resources.ValidationError{protocol},
	})
}

func validateProbes(p *Probes) resources.ValidationError {
	var v resources.ValidationError
	if p == nil {
		return v
	}
	at := resources.FieldPath("probes")
	v.Add(resources.ValidatePort(at.Field("port"), p.Port))
	for i, e := range p.Endpoints {
		ep := at.Field("endpoints").Index(i)
		v.Add(resources.ValidatePort(ep.Field("inboundPort"), e.InboundPort))
		if _, err := url.ParseRequestURI(e.InboundPath); err != nil {
			v.AddViolation(ep.Field("inboundPath"), "should be a valid URL Path")
		}
		if _, err := url.ParseRequestURI(e.Path); err != nil {
			v.AddViolation(ep.Field("path"), "should be a valid URL Path")
		}
	}
	return v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
