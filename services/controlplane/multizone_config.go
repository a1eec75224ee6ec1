package controlplane

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/services/zonesync"
)

func (c Config) validateMultizone() []error {
	var errs []error
	z := c.Multizone.Zone
	switch {
	case c.Mode == resources.ModeGlobal:
		if c.NATS.URL != "" {
			errs = append(errs, fmt.Errorf("mode global needs the embedded NATS server (nats.url is set): zone links are its leafnode listener"))
		}
		if p := c.Multizone.Global.KDS.GRPCPort; p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("multizone.global.kds.grpcPort %d out of range", p))
		}
		k := c.Multizone.Global.KDS
		if (k.TLSCertFile == "") != (k.TLSKeyFile == "") {
			errs = append(errs, fmt.Errorf("multizone.global.kds: set both tlsCertFile and tlsKeyFile, or neither"))
		}
	case c.Federated():
		if err := zonesync.ValidateZoneName(z.Name); err != nil {
			errs = append(errs, fmt.Errorf("multizone.zone.name: %w", err))
		}
		if _, err := c.GlobalURL(); err != nil {
			errs = append(errs, err)
		}
		if z.Token == "" && z.TokenFile == "" {
			errs = append(errs, fmt.Errorf("a federated zone needs a zone token: set JETMESH_MULTIZONE_ZONE_TOKEN or JETMESH_MULTIZONE_ZONE_TOKEN_FILE (kumactl generate zone-token --zone %s on the global)", z.Name))
		}
		if z.IngressUpdateInterval <= 0 {
			errs = append(errs, fmt.Errorf("multizone.zone.ingressUpdateInterval must be positive"))
		}
		if c.NATS.URL != "" {
			errs = append(errs, fmt.Errorf("a federated zone needs the embedded NATS server (nats.url is set): the link to the global is its leafnode"))
		}
	}
	return errs
}

// GlobalURL parses multizone.zone.globalAddress into the leafnode URL a zone dials.
func (c Config) GlobalURL() (*url.URL, error) {
	addr := c.Multizone.Zone.GlobalAddress
	hostport := addr
	if i := strings.Index(addr, "://"); i >= 0 {
		u, err := url.Parse(addr)
		if err != nil {
			return nil, fmt.Errorf("multizone.zone.globalAddress %q: %w", addr, err)
		}
		hostport = u.Host
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("multizone.zone.globalAddress %q: want grpcs://host:port, tls://host:port or host:port", addr)
	}
	return &url.URL{Scheme: "tls", Host: net.JoinHostPort(host, port)}, nil
}

// zoneToken returns the zone's token, from the config or its file.
func (c Config) zoneToken() (string, error) {
	z := c.Multizone.Zone
	if z.Token != "" {
		return strings.TrimSpace(z.Token), nil
	}
	b, err := os.ReadFile(z.TokenFile)
	if err != nil {
		return "", fmt.Errorf("zone token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
