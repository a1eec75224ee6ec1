package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
)

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

type listResponse struct {
	Total int     `json:"total"`
	Items []any   `json:"items"`
	Next  *string `json:"next"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, t target) {
	const title = "Could not retrieve resources"
	q := r.URL.Query()
	size, offset, perr := page(q)
	if perr != nil {
		writeError(w, perr)
		return
	}
	view, ok := s.viewAt(w, r, t, title)
	if !ok {
		return
	}
	filter, ferr := listFilter(q, t)
	if ferr != nil {
		writeError(w, toAPIError(title, ferr))
		return
	}
	if s.listFromIndex(w, r, t, view, filter, size, offset) {
		return
	}
	w.Header().Set(listSourceHeader, sourceMemory)
	entries := view.List(t.desc.Name, filter)
	resp := listResponse{Total: len(entries), Items: []any{}}
	end := min(offset+size, len(entries))
	for _, e := range entries[min(offset, len(entries)):end] {
		if t.overview {
			resp.Items = append(resp.Items, s.overview(view, e))
		} else {
			resp.Items = append(resp.Items, e.Resource)
		}
	}
	if end < len(entries) {
		next := nextLink(r, end)
		resp.Next = &next
	}
	writeJSON(w, http.StatusOK, resp)
}

// page reads Kuma's size and offset parameters. The offset is opaque to clients; here it is
// the index of the first item.
func page(q url.Values) (size, offset int, _ *apiError) {
	size = defaultPageSize
	if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		reason := ""
		switch {
		case err != nil:
			reason = "invalid format"
		case n <= 0:
			reason = "must be greater than 0"
		case n > maxPageSize:
			reason = fmt.Sprintf("invalid page size of %d. Maximum page size is %d", n, maxPageSize)
		}
		if reason != "" {
			e := newError(http.StatusBadRequest, "Could not retrieve resources", "Invalid page size")
			e.InvalidParameters = []invalidParam{{Field: "size", Reason: reason}}
			e.Causes = []cause{{Field: "size", Message: reason}}
			return 0, 0, e
		}
		size = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			e := newError(http.StatusBadRequest, "Could not retrieve resources", "Invalid offset")
			e.InvalidParameters = []invalidParam{{Field: "offset", Reason: "must be a non-negative integer"}}
			e.Causes = []cause{{Field: "offset", Message: "must be a non-negative integer"}}
			return 0, 0, e
		}
		offset = n
	}
	return size, offset, nil
}

// nextLink is an absolute URL, built from the request's Host and TLS as Kuma builds it, that
// keeps every other query parameter.
func nextLink(r *http.Request, offset int) string {
	q := r.URL.Query()
	q.Set("offset", strconv.Itoa(offset))
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	return u.String()
}

// listFilter reads name, filter[labels.k]=v and, for dataplanes, tag=k:v and gateway=...
func listFilter(q url.Values, t target) (state.Filter, error) {
	f := state.Filter{Mesh: t.mesh, NameLike: q.Get("name")}
	var v resources.ValidationError
	for k, vals := range q {
		if !strings.HasPrefix(k, "filter[") || !strings.HasSuffix(k, "]") {
			continue
		}
		inner := strings.TrimSuffix(strings.TrimPrefix(k, "filter["), "]")
		label, ok := strings.CutPrefix(inner, "labels.")
		if !ok || label == "" {
			v.AddViolationf(resources.FieldPath(k), "unsupported filter, use filter[labels.<key>]=<value>")
			continue
		}
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels[label] = vals[len(vals)-1]
	}
	if t.desc.Name == "Dataplane" {
		m, err := dataplaneFilter(q)
		if err != nil {
			v.AddViolation(resources.FieldPath("tag"), err.Error())
		}
		f.Match = m
	}
	return f, v.OrNil()
}

// dpNetworking is the part of a Dataplane spec the list filters read.
type dpNetworking struct {
	Networking struct {
		Inbound []struct {
			Tags map[string]string `json:"tags"`
		} `json:"inbound"`
		Gateway *struct {
			Type string `json:"type"`
		} `json:"gateway"`
	} `json:"networking"`
}

func dataplaneFilter(q url.Values) (func(*state.Entry) bool, error) {
	tags := map[string]string{}
	for _, tv := range q["tag"] {
		k, v, ok := strings.Cut(tv, ":")
		if !ok || k == "" {
			return nil, fmt.Errorf("tag filter %q must have the form key:value", tv)
		}
		tags[k] = v
	}
	gateway := strings.ToLower(q.Get("gateway"))
	switch gateway {
	case "", "true", "false", "delegated", "builtin":
	default:
		return nil, fmt.Errorf("gateway filter must be one of true, false, delegated, builtin")
	}
	if len(tags) == 0 && gateway == "" {
		return nil, nil
	}
	return func(e *state.Entry) bool {
		var dp dpNetworking
		if err := json.Unmarshal(marshalSpec(e.Resource), &dp); err != nil {
			return false
		}
		gw := dp.Networking.Gateway
		switch gateway {
		case "true":
			if gw == nil {
				return false
			}
		case "false":
			if gw != nil {
				return false
			}
		case "delegated":
			if gw == nil || strings.EqualFold(gw.Type, "BUILTIN") {
				return false
			}
		case "builtin":
			if gw == nil || !strings.EqualFold(gw.Type, "BUILTIN") {
				return false
			}
		}
		for k, v := range tags {
			if !anyInboundHas(dp, k, v) {
				return false
			}
		}
		return true
	}, nil
}

func anyInboundHas(dp dpNetworking, k, v string) bool {
	for _, in := range dp.Networking.Inbound {
		if got, ok := in.Tags[k]; ok && (v == "" || got == v) {
			return true
		}
	}
	return false
}

// overview renders <Type>Overview: the resource's meta, its spec under <type> and its insight
// under <type>Insight ({} when the proxy or zone never reported), both taken from view.
func (s *Server) overview(view *state.State, e *state.Entry) json.RawMessage {
	r := e.Resource
	field := lowerFirst(r.Desc.Name)
	insight := json.RawMessage("{}")
	if ie, ok := view.Get(r.Desc.Name+"Insight", r.Meta.Mesh, r.Meta.Name); ok {
		insight = marshalSpec(ie.Resource)
	}
	b, err := json.Marshal(overviewDoc{
		Type: r.Desc.Name + "Overview", Mesh: r.Meta.Mesh, Name: r.Meta.Name,
		CreationTime: r.Meta.CreationTime, ModificationTime: r.Meta.ModificationTime, Labels: r.Meta.Labels,
	})
	if err != nil {
		return json.RawMessage("{}")
	}
	out, err := marshalOrdered(b, field, marshalSpec(r), insight)
	if err != nil {
		return json.RawMessage("{}")
	}
	return out
}

type overviewDoc struct {
	Type             string            `json:"type"`
	Mesh             string            `json:"mesh,omitempty"`
	Name             string            `json:"name"`
	CreationTime     time.Time         `json:"creationTime"`
	ModificationTime time.Time         `json:"modificationTime"`
	Labels           map[string]string `json:"labels,omitempty"`
}

// marshalOrdered appends the spec and insight fields to the meta object, keeping meta first.
func marshalOrdered(meta []byte, field string, spec, insight json.RawMessage) (json.RawMessage, error) {
	if len(meta) < 2 {
		return nil, fmt.Errorf("empty meta")
	}
	f, _ := json.Marshal(field)
	fi, _ := json.Marshal(field + "Insight")
	out := append([]byte{}, meta[:len(meta)-1]...)
	out = append(out, ',')
	out = append(out, f...)
	out = append(out, ':')
	out = append(out, spec...)
	out = append(out, ',')
	out = append(out, fi...)
	out = append(out, ':')
	out = append(out, insight...)
	out = append(out, '}')
	return out, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	rs := []rune(s)
	rs[0] = unicode.ToLower(rs[0])
	return string(rs)
}
