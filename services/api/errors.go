package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/services/manager"
)

// apiError is Kuma's error body: the Kong AIP-193 fields plus the legacy ones duplicated
// (details, causes) that older kumactl versions read.
type apiError struct {
	Type              string         `json:"type"`
	Status            int            `json:"status"`
	Title             string         `json:"title"`
	Detail            string         `json:"detail"`
	InvalidParameters []invalidParam `json:"invalid_parameters,omitempty"`
	Details           string         `json:"details"`
	Causes            []cause        `json:"causes,omitempty"`
}

type invalidParam struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

type cause struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Kuma's detail for writes to types no client may write (insights).
const readOnlyDetail = "Not allowed in read-only mode."

func newError(status int, title, detail string) *apiError {
	return &apiError{Type: "/std-errors", Status: status, Title: title, Detail: detail, Details: detail}
}

func validationError(title string, v *resources.ValidationError) *apiError {
	e := newError(http.StatusBadRequest, title, "Resource is not valid")
	for _, x := range v.Violations {
		e.InvalidParameters = append(e.InvalidParameters, invalidParam{Field: x.Field, Reason: x.Message})
		e.Causes = append(e.Causes, cause{Field: x.Field, Message: x.Message})
	}
	return e
}

// toAPIError is the one place where domain errors become HTTP statuses.
func toAPIError(title string, err error) *apiError {
	var v *resources.ValidationError
	var de *resources.DecodeError
	var mnf *manager.MeshNotFoundError
	var ro *manager.ReadOnlyError
	switch {
	case errors.As(err, &mnf):
		e := newError(http.StatusBadRequest, title, "Mesh is not found")
		e.InvalidParameters = []invalidParam{{Field: "mesh", Reason: mnf.Error()}}
		e.Causes = []cause{{Field: "mesh", Message: mnf.Error()}}
		return e
	case errors.As(err, &v):
		return validationError(title, v)
	case errors.As(err, &de):
		return newError(http.StatusBadRequest, title, de.Error())
	case errors.Is(err, events.ErrNotFound):
		return newError(http.StatusNotFound, title, "Not found")
	case errors.Is(err, events.ErrConflict):
		return newError(http.StatusConflict, title, "Resource was updated concurrently, retry the request")
	case errors.As(err, &ro):
		return newError(http.StatusMethodNotAllowed, "Method not allowed", ro.Detail)
	case errors.Is(err, manager.ErrReadOnly):
		return newError(http.StatusMethodNotAllowed, title, readOnlyDetail)
	case errors.Is(err, events.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return newError(http.StatusServiceUnavailable, title, "The event log is unavailable, retry the request")
	}
	return newError(http.StatusInternalServerError, title, "Internal Server Error")
}

// WriteError writes Kuma's error shape, for endpoints other packages add with Handle.
func WriteError(w http.ResponseWriter, status int, title, detail string) {
	writeError(w, newError(status, title, detail))
}
