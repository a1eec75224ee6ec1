package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// client talks to a jetmesh (or Kuma) REST API.
type client struct {
	base string // e.g. http://127.0.0.1:5681, no trailing slash
	http *http.Client
}

func newClient(address, token, caFile string) (*client, error) {
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--api-address %q: want http(s)://host:port", address)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-cert-file %s: no PEM certificate in it", caFile)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var rt http.RoundTripper = transport
	if token != "" {
		rt = bearer{token: token, next: transport}
	}
	return &client{base: strings.TrimRight(address, "/"), http: &http.Client{Transport: rt}}, nil
}

// bearer sends a user token (kumactl generate user-token) with every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// apiError is the error body of the API (Kuma's shape), shortened to one line.
type apiError struct {
	Status            int    `json:"status"`
	Title             string `json:"title"`
	Detail            string `json:"detail"`
	InvalidParameters []struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"invalid_parameters"`
}

func (e *apiError) Error() string {
	msg := e.Title
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	for _, p := range e.InvalidParameters {
		msg += fmt.Sprintf(" (%s %s)", p.Field, p.Reason)
	}
	return msg
}

// do sends a request to path (with query) and returns the raw JSON answer of a 2xx response.
func (c *client) do(ctx context.Context, method, path string, q url.Values) ([]byte, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return c.doURL(ctx, method, u)
}

func (c *client) doURL(ctx context.Context, method, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err // a *url.Error names the method and URL
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		ae := &apiError{}
		if json.Unmarshal(body, ae) != nil || ae.Title == "" {
			return nil, fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil, ae
	}
	return body, nil
}

// page is the list shape of the API (resources, _history, /events).
type page struct {
	Total *int              `json:"total,omitempty"`
	Items []json.RawMessage `json:"items"`
	Next  *string           `json:"next"`
}

// list fetches every page of a list, up to limit items (0: all).
func (c *client) list(ctx context.Context, path string, q url.Values, limit int) ([]json.RawMessage, error) {
	body, err := c.do(ctx, http.MethodGet, path, q)
	all := []json.RawMessage{} // an empty answer prints as [], not null
	for {
		if err != nil {
			return nil, err
		}
		var p page
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		all = append(all, p.Items...)
		if limit > 0 && len(all) >= limit {
			return all[:limit], nil
		}
		if p.Next == nil || *p.Next == "" {
			return all, nil
		}
		body, err = c.doURL(ctx, http.MethodGet, *p.Next)
	}
}

// stream reads GET path?q as Server-Sent Events and calls fn with each event's data until ctx
// ends (nil) or the stream fails.
func (c *client) stream(ctx context.Context, path string, q url.Values, fn func(data []byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		ae := &apiError{}
		if json.Unmarshal(body, ae) == nil && ae.Title != "" {
			return ae
		}
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
		case line == "" && len(data) > 0:
			if err := fn(data); err != nil {
				return err
			}
			data = nil
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("read event stream: %w", err)
	}
	return nil
}

// resourceType is one entry of GET /_resources.
type resourceType struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	ShortName string `json:"shortName"`
	Scope     string `json:"scope"`
}

// resolveType maps a kumactl type argument (meshtrafficpermission, meshtrafficpermissions, mtp,
// MeshTrafficPermission) to the API's type.
func (c *client) resolveType(ctx context.Context, arg string) (resourceType, error) {
	body, err := c.do(ctx, http.MethodGet, "/_resources", nil)
	if err != nil {
		return resourceType{}, err
	}
	var out struct {
		Resources []resourceType `json:"resources"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return resourceType{}, fmt.Errorf("decode /_resources: %w", err)
	}
	want := strings.ToLower(arg)
	for _, rt := range out.Resources {
		if want == strings.ToLower(rt.Name) || want == rt.Path || (rt.ShortName != "" && want == rt.ShortName) {
			return rt, nil
		}
	}
	return resourceType{}, fmt.Errorf("unknown resource type %q (see GET /_resources)", arg)
}

// path is the REST path of the type's collection, or of one resource when name is set.
func (rt resourceType) path(mesh, name string) string {
	p := "/" + rt.Path
	if rt.Scope == "Mesh" {
		p = "/meshes/" + url.PathEscape(mesh) + p
	}
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}
