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
// otherwise Envoy's own /ready when the admin is on a unix socket, else "READY". The control
// plane routes the proxy's public /ready to it (dataplane.readinessReporter.port).
type readiness struct {
	admin       *adminClient
	proxyAdmin  bool
	terminating atomic.Bool
	srv         *http.Server
	done        chan struct{}
}

// startReadiness listens before returning, so a busy port fails the start.
func startReadiness(host string, port uint32, admin *adminClient, proxyAdmin bool, log *slog.Logger) (*readiness, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10)))
	if err != nil {
		return nil, err
	}
	r := &readiness{admin: admin, proxyAdmin: proxyAdmin, done: make(chan struct{})}
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
