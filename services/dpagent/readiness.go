package dpagent

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// readiness serves kuma-dp's /ready on loopback: "TERMINATING" (503) once shutdown has begun,
// "NOT_READY" (503) while the embedded DNS proxy waits for its first table, otherwise
// Envoy's own /ready when the admin is on a unix socket, else "READY". The control plane
// routes the proxy's public /ready to it (dataplane.readinessReporter.port).
type readiness struct {
	admin       *adminClient
	proxyAdmin  bool
	dns         *gate
	terminating atomic.Bool
	srv         *http.Server
	done        chan struct{}
}

// gate holds /ready until open is closed, but not past deadline: mesh names must resolve
// before the application starts, yet a control plane that never sends a DNS table must
// not keep the proxy unready forever (kuma-dp gives up after 15s too).
type gate struct {
	open     <-chan struct{}
	deadline time.Time
	bypassed atomic.Bool
	log      *slog.Logger
}

// dnsGate is nil (no gate) when there is no DNS proxy.
func dnsGate(open <-chan struct{}, timeout time.Duration) *gate {
	if open == nil {
		return nil
	}
	return &gate{open: open, deadline: time.Now().Add(timeout)}
}

func (g *gate) passes() bool {
	if g == nil || g.bypassed.Load() {
		return true
	}
	select {
	case <-g.open:
		return true
	default:
	}
	if time.Now().Before(g.deadline) {
		return false
	}
	if g.bypassed.CompareAndSwap(false, true) {
		g.log.Warn("no DNS table from the control plane in time; reporting ready without it")
	}
	return true
}

// startReadiness listens before returning, so a busy port fails the start.
func startReadiness(host string, port uint32, admin *adminClient, proxyAdmin bool, dns *gate, log *slog.Logger) (*readiness, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10)))
	if err != nil {
		return nil, err
	}
	if dns != nil {
		dns.log = log
	}
	r := &readiness{admin: admin, proxyAdmin: proxyAdmin, dns: dns, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", r.serveReady)
	r.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(r.done)
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("readiness reporter stopped", "err", err)
		}
	}()
	log.Info("readiness reporter listening", "addr", ln.Addr().String())
	return r, nil
}

func (r *readiness) setTerminating() { r.terminating.Store(true) }

func (r *readiness) serveReady(w http.ResponseWriter, req *http.Request) {
	if r.terminating.Load() {
		writeState(w, "TERMINATING", http.StatusServiceUnavailable)
		return
	}
	if !r.dns.passes() {
		writeState(w, "NOT_READY", http.StatusServiceUnavailable)
		return
	}
	if r.proxyAdmin {
		if err := r.admin.do(req.Context(), http.MethodGet, "/ready", w); err != nil {
			http.Error(w, "envoy not ready", http.StatusServiceUnavailable)
		}
		return
	}
	writeState(w, "READY", http.StatusOK)
}

func writeState(w http.ResponseWriter, state string, status int) {
	w.Header().Set("content-type", "text/plain")
	w.Header().Set("cache-control", "no-cache, max-age=0")
	w.Header().Set("x-powered-by", "kuma-dp")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(state))
}

// stop closes the listener and waits for in-flight requests and the serving goroutine.
func (r *readiness) stop(ctx context.Context) {
	_ = r.srv.Shutdown(ctx)
	<-r.done
}
