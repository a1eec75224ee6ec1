package dpagent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"sigs.k8s.io/yaml"
)

// adminClient talks to Envoy's admin API over loopback TCP or its unix socket.
type adminClient struct {
	base      string
	client    *http.Client
	transport *http.Transport
}

// adminAddress is where Envoy's admin listens according to the bootstrap.
type adminAddress struct {
	Host       string
	Port       uint32
	SocketPath string
}

func (a adminAddress) String() string {
	if a.SocketPath != "" {
		return "unix:" + a.SocketPath
	}
	return net.JoinHostPort(a.Host, strconv.FormatUint(uint64(a.Port), 10))
}

func newAdminClient(a adminAddress) *adminClient {
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	base := "http://" + a.String()
	if a.SocketPath != "" {
		path := a.SocketPath
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "unix", path)
		}
		base = "http://localhost"
	}
	return &adminClient{base: base, transport: tr, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// post calls an admin endpoint; Envoy answers 200 when it did what was asked.
func (c *adminClient) post(ctx context.Context, path string) error {
	return c.do(ctx, http.MethodPost, path, nil)
}

// do sends one admin request; w, when not nil, receives the answer whatever its status.
func (c *adminClient) do(ctx context.Context, method, path string, w http.ResponseWriter) error {
	defer c.transport.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, http.NoBody)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("envoy admin %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("envoy admin %s: %w", path, err)
	}
	if w != nil {
		w.Header().Set("content-type", resp.Header.Get("content-type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("envoy admin %s: status %d: %s", path, resp.StatusCode, oneLine(string(body)))
	}
	return nil
}

// adminFromBootstrap finds admin.address in a bootstrap rendered as YAML or JSON, with
// proto JSON names (socketAddress) or proto field names (socket_address).
func adminFromBootstrap(data []byte) (adminAddress, bool) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return adminAddress{}, false
	}
	var doc map[string]any
	if json.Unmarshal(j, &doc) != nil {
		return adminAddress{}, false
	}
	addr := lookup(doc, "admin", "address")
	if path, ok := lookup(addr, "pipe", "path").(string); ok && path != "" {
		return adminAddress{SocketPath: path}, true
	}
	sock := lookup(addr, "socketAddress")
	if sock == nil {
		sock = lookup(addr, "socket_address")
	}
	host, _ := lookup(sock, "address").(string)
	port, _ := lookup(sock, "portValue").(float64)
	if port == 0 {
		port, _ = lookup(sock, "port_value").(float64)
	}
	if host == "" || port <= 0 || port > 65535 {
		return adminAddress{}, false
	}
	return adminAddress{Host: host, Port: uint32(port)}, true
}

func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
