// Package dynconf polls the control plane's dynamic configuration that Envoy serves to the
// data plane agent, as kuma-dp 2.14 does: the control plane adds a listener
// (_kuma:dynamicconfig) on a unix socket in the agent's work directory whose routes answer
// GET <path> directly with a JSON document and its ETag, and 304 to If-None-Match with
// that ETag. The agent asks every refresh interval and hands changed documents to the
// handler registered for their path (the DNS table at /dns).
package dynconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/jetmesh/jetmesh/xds/dpapi"
)

// SocketPath is where the control plane puts the dynamic configuration listener for an
// agent whose work directory is workdir (Kuma's MeshMetricsDynamicConfigurationSocketName:
// the path cut to 98 bytes, to stay under the unix socket limit, plus ".sock").
func SocketPath(workdir string) string { return dpapi.SocketPath(workdir) }

// HandlerFunc applies a changed document; an error makes the fetcher ask again with no
// If-None-Match, so the same document is offered until it is applied.
type HandlerFunc func(ctx context.Context, body io.Reader) error

// Fetcher polls one socket.
type Fetcher struct {
	socket     string
	interval   time.Duration
	maxBackoff time.Duration
	client     *http.Client
	transport  *http.Transport
	handlers   []*handler
	log        *slog.Logger
}

type handler struct {
	path   string
	apply  HandlerFunc
	etag   string // of the last document applied
	failed int    // consecutive failures, for the backoff
}

// New returns a fetcher for the socket, polling every interval (kuma-dp:
// KUMA_DATAPLANE_RUNTIME_DYNAMIC_CONFIGURATION_REFRESH_INTERVAL, default 1s).
func New(socket string, interval time.Duration, log *slog.Logger) *Fetcher {
	if interval <= 0 {
		interval = time.Second
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
		MaxIdleConns: 1,
	}
	return &Fetcher{
		socket: socket, interval: interval, maxBackoff: max(30*time.Second, interval),
		client: &http.Client{Transport: tr}, transport: tr, log: log,
	}
}

// Handle registers apply for documents at path; call it before Run.
func (f *Fetcher) Handle(path string, apply HandlerFunc) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("dynamic configuration path %q must start with /", path)
	}
	for _, h := range f.handlers {
		if h.path == path {
			return fmt.Errorf("dynamic configuration path %s registered twice", path)
		}
	}
	f.handlers = append(f.handlers, &handler{path: path, apply: apply})
	return nil
}

// Run polls until ctx is cancelled, at once and then every interval; a path whose fetch
// or handler fails is asked again after a doubling backoff (capped at 30s) instead.
func (f *Fetcher) Run(ctx context.Context) error {
	defer f.transport.CloseIdleConnections()
	f.log.Info("polling dynamic configuration", "socket", f.socket, "interval", f.interval)
	next := make([]time.Time, len(f.handlers))
	for {
		now := time.Now()
		wake := now.Add(f.interval)
		for i, h := range f.handlers {
			if now.Before(next[i]) {
				wake = earliest(wake, next[i])
				continue
			}
			if err := f.step(ctx, h); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				h.failed++
				wait := f.backoff(h.failed)
				f.log.Warn("dynamic configuration fetch failed", "path", h.path, "err", err.Error(), "retryIn", wait)
				next[i] = time.Now().Add(wait)
			} else {
				h.failed = 0
				next[i] = time.Now().Add(f.interval)
			}
			wake = earliest(wake, next[i])
		}
		t := time.NewTimer(time.Until(wake))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (f *Fetcher) backoff(failures int) time.Duration {
	d := f.interval
	for i := 1; i < failures && d < f.maxBackoff; i++ {
		d *= 2
	}
	return min(d, f.maxBackoff)
}

// step asks for one path once. A socket that is not there yet, or that nobody listens on,
// is not an error: Envoy creates it only once the control plane has sent the listener, and
// leaves the file behind when the listener is removed.
func (f *Fetcher) step(ctx context.Context, h *handler) error {
	rctx, cancel := context.WithTimeout(ctx, max(f.interval, 5*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://localhost"+h.path, http.NoBody)
	if err != nil {
		return err
	}
	if h.etag != "" {
		req.Header.Set("If-None-Match", h.etag)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			f.log.Debug("dynamic configuration socket not served yet", "socket", f.socket, "path", h.path)
			return nil
		}
		return fmt.Errorf("GET %s on %s: %w", h.path, f.socket, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil
	case http.StatusNotFound:
		// The control plane serves nothing here for this proxy (e.g. no transparent proxy).
		if h.etag != "" {
			f.log.Info("dynamic configuration withdrawn", "path", h.path)
			h.etag = ""
		}
		return nil
	case http.StatusOK:
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("GET %s on %s: unexpected status %d", h.path, f.socket, resp.StatusCode)
	}
	etag := resp.Header.Get("Etag")
	prev := h.etag
	// Until the document is applied, the next request must not claim to have it.
	h.etag = ""
	if err := h.apply(rctx, io.LimitReader(resp.Body, 64<<20)); err != nil {
		return fmt.Errorf("apply %s: %w", h.path, err)
	}
	h.etag = etag
	f.log.Info("dynamic configuration changed", "path", h.path, "etag", etag, "previous", prev)
	return nil
}
