// Command fakeenvoy stands in for Envoy in the agent's tests. It records its arguments, the
// admin requests it receives and the signals it gets, one JSON object per line, in the file
// named by FAKE_ENVOY_RECORD, and serves a tiny admin API where the bootstrap says.
//
// FAKE_ENVOY_EXIT_CODE: status to exit with on SIGTERM/SIGINT (default 0).
// FAKE_ENVOY_IGNORE_SIGTERM=1: record SIGTERM but keep running.
// FAKE_ENVOY_EXIT_ON_HEALTHCHECK_FAIL=1: exit (with FAKE_ENVOY_EXIT_CODE) after answering
// POST /healthcheck/fail, as if it had finished draining.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Print("\nenvoy  version: 0123abcd/1.38.2/Clean/RELEASE/BoringSSL\n")
		return
	}
	record(map[string]any{"event": "start", "argv": os.Args[1:]})
	exitCode, _ := strconv.Atoi(os.Getenv("FAKE_ENVOY_EXIT_CODE"))
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	exit := make(chan struct{}, 1)
	ln, err := listenAdmin(configPath(os.Args[1:]))
	if err != nil {
		record(map[string]any{"event": "error", "error": err.Error()})
		os.Exit(1)
	}
	go func() { _ = http.Serve(ln, adminHandler(exit)) }()
	record(map[string]any{"event": "admin-listening", "addr": ln.Addr().String()})
	for {
		select {
		case s := <-sigs:
			record(map[string]any{"event": "signal", "signal": s.String()})
			if s == syscall.SIGTERM && os.Getenv("FAKE_ENVOY_IGNORE_SIGTERM") == "1" {
				continue
			}
			os.Exit(exitCode)
		case <-exit:
			record(map[string]any{"event": "exit-after-drain"})
			os.Exit(exitCode)
		}
	}
}

func adminHandler(exit chan<- struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(map[string]any{"event": "admin", "method": r.Method, "uri": r.URL.RequestURI()})
		w.Header().Set("connection", "close")
		switch r.URL.Path {
		case "/ready":
			_, _ = w.Write([]byte("LIVE\n"))
		default:
			_, _ = w.Write([]byte("OK\n"))
		}
		w.(http.Flusher).Flush()
		if r.URL.Path == "/healthcheck/fail" && os.Getenv("FAKE_ENVOY_EXIT_ON_HEALTHCHECK_FAIL") == "1" {
			exit <- struct{}{}
		}
	})
}

func configPath(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--config-path" {
			return args[i+1]
		}
	}
	return ""
}

// listenAdmin listens where the bootstrap's admin.address says.
func listenAdmin(path string) (net.Listener, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b struct {
		Admin struct {
			Address struct {
				SocketAddress *struct {
					Address   string `json:"address"`
					PortValue int    `json:"portValue"`
				} `json:"socketAddress"`
				Pipe *struct {
					Path string `json:"path"`
				} `json:"pipe"`
			} `json:"address"`
		} `json:"admin"`
	}
	if err := yaml.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	if p := b.Admin.Address.Pipe; p != nil {
		return net.Listen("unix", p.Path)
	}
	if s := b.Admin.Address.SocketAddress; s != nil {
		return net.Listen("tcp", net.JoinHostPort(s.Address, strconv.Itoa(s.PortValue)))
	}
	return nil, fmt.Errorf("no admin address in %s", path)
}

func record(v map[string]any) {
	line, _ := json.Marshal(v)
	f, err := os.OpenFile(os.Getenv("FAKE_ENVOY_RECORD"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n'))
}
