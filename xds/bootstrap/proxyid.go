package bootstrap

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ProxyID is Envoy's node.id for a proxy: "<mesh>.<name>", ".<name>" for zone proxies.
func ProxyID(mesh, name string) string { return mesh + "." + name }

// ParseProxyID splits a node.id at its first dot, as Kuma's ParseProxyIdFromString does; the
// mesh is empty for zone proxies and the name may itself contain dots.
func ParseProxyID(id string) (mesh, name string, err error) {
	if id == "" {
		return "", "", errors.New("envoy node id must not be empty")
	}
	mesh, name, ok := strings.Cut(id, ".")
	if !ok {
		return "", "", fmt.Errorf("envoy node id %q: the name should be provided after the dot", id)
	}
	if name == "" {
		return "", "", fmt.Errorf("envoy node id %q: name must not be empty", id)
	}
	return mesh, name, nil
}

// AccessLogSocketPath is the unix socket the agent serves access logs on for Envoy.
func AccessLogSocketPath(workdir, name, mesh string) string {
	return socketName(filepath.Join(workdir, fmt.Sprintf("kuma-al-%s-%s", name, mesh)))
}

// AdminSocketPath is the unix socket of Envoy's admin API when the CP asks for one.
func AdminSocketPath(workdir string) string {
	return socketName(filepath.Join(workdir, "kuma-envoy-admin"))
}

// socketName keeps a socket path within the 104-byte limit of some systems, as Kuma does.
func socketName(s string) string {
	return s[:min(len(s), 98)] + ".sock"
}
