// Package kumaapi is the small part of Kuma's REST API (2.x, port 5681) the load generator
// drives: meshes, dataplanes and MeshTrafficPermissions, by PUT, GET and DELETE. It speaks
// the wire format only, so it works against any Kuma-2.x-compatible control plane.
package kumaapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrNotFound is returned for 404 answers.
var ErrNotFound = errors.New("not found")

// Client calls one control plane's REST API.
type Client struct {
	base string
	http *http.Client
}

// New returns a client for the API at base (e.g. http://127.0.0.1:5681). Connections are kept
// alive and shared by up to maxConns concurrent callers.
func New(base string, maxConns int) *Client {
	tr := &http.Transport{MaxIdleConns: maxConns, MaxIdleConnsPerHost: maxConns, MaxConnsPerHost: maxConns,
		IdleConnTimeout: 30 * time.Second}
	return &Client{base: strings.TrimRight(base, "/"), http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Error is a non-2xx answer.
type Error struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, strings.TrimSpace(e.Body))
}

// Is makes errors.Is(err, ErrNotFound) work for 404 answers.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

func (c *Client) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, &Error{Method: method, Path: path, Status: resp.StatusCode, Body: string(out)}
	}
	return out, nil
}

// Index is GET /.
func (c *Client) Index(ctx context.Context) (map[string]any, error) {
	b, err := c.do(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("GET /: %w", err)
	}
	return out, nil
}

// PutMesh creates or updates a mesh.
func (c *Client) PutMesh(ctx context.Context, m Mesh) error {
	m.Type = "Mesh"
	_, err := c.do(ctx, http.MethodPut, "/meshes/"+url.PathEscape(m.Name), m)
	return err
}

// DeleteMesh deletes a mesh; a missing one is not an error.
func (c *Client) DeleteMesh(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/meshes/"+url.PathEscape(name), nil)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// PutDataplane creates or updates a dataplane.
func (c *Client) PutDataplane(ctx context.Context, dp Dataplane) error {
	dp.Type = "Dataplane"
	_, err := c.do(ctx, http.MethodPut, meshPath(dp.Mesh, "dataplanes", dp.Name), dp)
	return err
}

// GetDataplane reads a dataplane.
func (c *Client) GetDataplane(ctx context.Context, mesh, name string) (Dataplane, error) {
	var dp Dataplane
	b, err := c.do(ctx, http.MethodGet, meshPath(mesh, "dataplanes", name), nil)
	if err != nil {
		return dp, err
	}
	if err := json.Unmarshal(b, &dp); err != nil {
		return dp, fmt.Errorf("decode dataplane %s/%s: %w", mesh, name, err)
	}
	return dp, nil
}

// ListDataplanes reads one page of a mesh's dataplanes and returns the total.
func (c *Client) ListDataplanes(ctx context.Context, mesh string, size int) (int, error) {
	b, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/meshes/%s/dataplanes?size=%d", url.PathEscape(mesh), size), nil)
	if err != nil {
		return 0, err
	}
	var page struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return 0, fmt.Errorf("decode dataplane list: %w", err)
	}
	return page.Total, nil
}

// DeleteDataplane deletes a dataplane; a missing one is not an error. A conflict (the
// control plane was writing the dataplane's insight as its proxy disconnected) is retried,
// as Kuma's error text asks.
func (c *Client) DeleteDataplane(ctx context.Context, mesh, name string) error {
	var err error
	for attempt := range 5 {
		_, err = c.do(ctx, http.MethodDelete, meshPath(mesh, "dataplanes", name), nil)
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusConflict {
			break
		}
		select {
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("delete dataplane %s/%s: %w", mesh, name, ctx.Err())
		}
	}
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// PutPolicy creates or updates a targetRef policy of the given REST collection
// (e.g. "meshtrafficpermissions").
func (c *Client) PutPolicy(ctx context.Context, collection string, p Policy) error {
	_, err := c.do(ctx, http.MethodPut, meshPath(p.Mesh, collection, p.Name), p)
	return err
}

// DeletePolicy deletes a policy; a missing one is not an error.
func (c *Client) DeletePolicy(ctx context.Context, collection, mesh, name string) error {
	_, err := c.do(ctx, http.MethodDelete, meshPath(mesh, collection, name), nil)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func meshPath(mesh, collection, name string) string {
	return "/meshes/" + url.PathEscape(mesh) + "/" + collection + "/" + url.PathEscape(name)
}

// GetMesh reads a mesh (ErrNotFound when it does not exist, e.g. not yet replicated to a zone).
func (c *Client) GetMesh(ctx context.Context, name string) (Mesh, error) {
	var m Mesh
	b, err := c.do(ctx, http.MethodGet, "/meshes/"+url.PathEscape(name), nil)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("decode mesh %s: %w", name, err)
	}
	return m, nil
}

// GetPolicy reports whether a policy exists (ErrNotFound when it does not).
func (c *Client) GetPolicy(ctx context.Context, collection, mesh, name string) error {
	_, err := c.do(ctx, http.MethodGet, meshPath(mesh, collection, name), nil)
	return err
}

// ZoneToken asks a global control plane for a zone control plane's token (POST /tokens/zone,
// as kumactl generate zone-token --scope cp).
func (c *Client) ZoneToken(ctx context.Context, zone string, validFor time.Duration) (string, error) {
	b, err := c.do(ctx, http.MethodPost, "/tokens/zone",
		map[string]any{"zone": zone, "scope": []string{"cp"}, "validFor": validFor.String()})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// PutZoneIngress creates or updates a zone ingress (on a zone control plane).
func (c *Client) PutZoneIngress(ctx context.Context, zi ZoneIngress) error {
	zi.Type = "ZoneIngress"
	_, err := c.do(ctx, http.MethodPut, "/zoneingresses/"+url.PathEscape(zi.Name), zi)
	return err
}

// GetZoneIngress reads a zone ingress, with the services it offers.
func (c *Client) GetZoneIngress(ctx context.Context, name string) (ZoneIngress, error) {
	var zi ZoneIngress
	b, err := c.do(ctx, http.MethodGet, "/zoneingresses/"+url.PathEscape(name), nil)
	if err != nil {
		return zi, err
	}
	if err := json.Unmarshal(b, &zi); err != nil {
		return zi, fmt.Errorf("decode zone ingress %s: %w", name, err)
	}
	return zi, nil
}

// Offers reports whether the ingress offers a service of a mesh.
func (zi ZoneIngress) Offers(mesh, service string) bool {
	for _, s := range zi.AvailableServices {
		if s.Mesh == mesh && s.Tags[ServiceTag] == service {
			return true
		}
	}
	return false
}

// DeleteZoneIngress deletes a zone ingress; a missing one is not an error.
func (c *Client) DeleteZoneIngress(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/zoneingresses/"+url.PathEscape(name), nil)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
