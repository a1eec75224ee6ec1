// Package k8stest runs a real Kubernetes control plane for tests: etcd and kube-apiserver and,
// on request, kube-controller-manager with the garbage-collector, namespace and endpointslice
// controllers. Each cluster gets its own CA, admin credentials, service-account key and
// random loopback ports, and stops when the test ends. There is no kubelet and no scheduler:
// pods stay Pending unless a test writes their status itself.
//
// The binaries are Kubernetes v1.37.1 built from the Go module proxy by
// deploy/k8stools/build.sh into ${XDG_CACHE_HOME:-$HOME/.cache}/jetmesh/k8s-v1.37.1 (or
// $JETMESH_K8S_BIN_DIR). Without them Start skips the test, and fails it when CI=true, since
// .ci/run builds them.
//
// A cluster starts in about 10 seconds, so a package with many Kubernetes tests may prefer one
// cluster per test function with subtests over one per test:
//
//	c := k8stest.Start(t, k8stest.Options{ControllerManager: true})
//	client, err := kubernetes.NewForConfig(c.RESTConfig())
package k8stest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// Version is the Kubernetes version of the binaries.
const Version = "v1.37.1"

// Binary names, as build.sh writes them.
const (
	Etcd                  = "etcd"
	KubeAPIServer         = "kube-apiserver"
	KubeControllerManager = "kube-controller-manager"
)

// BinDir is where Start looks for the binaries: $JETMESH_K8S_BIN_DIR, or the directory
// deploy/k8stools/build.sh fills by default.
func BinDir() string {
	if dir := os.Getenv("JETMESH_K8S_BIN_DIR"); dir != "" {
		return dir
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "jetmesh", "k8s-"+Version)
}

// Options choose what runs besides etcd and kube-apiserver.
type Options struct {
	// ControllerManager runs kube-controller-manager with the garbage-collector, namespace and
	// endpointslice controllers: without it deleting an owner leaves its dependents, and a
	// deleted namespace stays Terminating.
	ControllerManager bool
	// StartTimeout bounds the wait for every component to be ready; 2 minutes if zero, which is
	// generous because test machines run several packages' tests at once.
	StartTimeout time.Duration
}

// Cluster is a running control plane.
type Cluster struct {
	// Config reaches the API server as a member of system:masters, which RBAC lets do anything.
	// Each call to RESTConfig returns a copy that is safe to modify.
	Config *rest.Config
	// Kubeconfig is a kubeconfig file with the same server and credentials, for binaries.
	Kubeconfig string
	// URL is the API server's address, https://127.0.0.1:<port>.
	URL string

	dir   string
	pki   *pki
	procs []*process // in start order; stopped in reverse
}

// RESTConfig returns a copy of Config.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.Config) }

// Start runs a cluster for the rest of the test and stops it in t.Cleanup. It skips the test
// when the binaries are missing, unless CI=true, where it fails it.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	bins := BinDir()
	need := []string{Etcd, KubeAPIServer}
	if opts.ControllerManager {
		need = append(need, KubeControllerManager)
	}
	for _, name := range need {
		if _, err := os.Stat(filepath.Join(bins, name)); err != nil {
			msg := fmt.Sprintf("k8stest: %s is not in %s; build it with deploy/k8stools/build.sh "+
				"(about 6 minutes the first time) or point JETMESH_K8S_BIN_DIR at it", name, bins)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}

	ctx, cancel := context.WithTimeout(context.Background(), opts.StartTimeout)
	defer cancel()
	c := &Cluster{dir: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range c.procs {
				t.Logf("k8stest: last output of %s:\n%s", p.name, p.tail(40))
			}
		}
		c.stop()
	})
	if err := c.start(ctx, bins, opts); err != nil {
		t.Fatalf("k8stest: start cluster: %v", err)
	}
	return c
}

func (c *Cluster) start(ctx context.Context, bins string, opts Options) error {
	var err error
	if c.pki, err = newPKI(c.dir); err != nil {
		return err
	}
	etcdURL, err := retryPorts(ctx, func(ports []int) (string, error) { return c.startEtcd(ctx, bins, ports) }, 2)
	if err != nil {
		return err
	}
	if c.URL, err = retryPorts(ctx, func(ports []int) (string, error) {
		return c.startAPIServer(ctx, bins, etcdURL, ports[0])
	}, 1); err != nil {
		return err
	}
	c.Config = &rest.Config{
		Host: c.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   c.pki.caPEM,
			CertData: c.pki.adminCertPEM,
			KeyData:  c.pki.adminKeyPEM,
		},
		// client-go's defaults (5 QPS) would make a test wait on its own client, not the server.
		QPS:   200,
		Burst: 400,
	}
	c.Kubeconfig = filepath.Join(c.dir, "admin.kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, c.kubeconfig(), 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if opts.ControllerManager {
		if _, err := retryPorts(ctx, func(ports []int) (string, error) {
			return "", c.startControllerManager(ctx, bins, ports[0])
		}, 1); err != nil {
			return err
		}
	}
	return nil
}

// retryPorts runs start with n fresh ports, again with others when a port was taken between
// choosing it and the process binding it.
func retryPorts(ctx context.Context, start func(ports []int) (string, error), n int) (string, error) {
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(n)
		if err != nil {
			return "", err
		}
		out, err := start(ports)
		if err == nil || !errors.Is(err, errAddrInUse) || attempt == 3 || ctx.Err() != nil {
			return out, err
		}
	}
}

// launch starts a component and waits until ready says so, retiring it when it fails.
func (c *Cluster) launch(ctx context.Context, name, bin string, args []string, ready func(context.Context) error) error {
	p, err := startProcess(name, bin, filepath.Join(c.dir, name+".log"), args)
	if err != nil {
		return err
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		if gone, exitErr := p.exited(); gone {
			if p.addrInUse() {
				return fmt.Errorf("%s: %w: %v", name, errAddrInUse, exitErr)
			}
			return exitErr
		}
		if lastErr = ready(ctx); lastErr == nil {
			c.procs = append(c.procs, p)
			return nil
		}
		select {
		case <-ctx.Done():
			p.stop(5 * time.Second)
			return fmt.Errorf("%s not ready: %w (last check: %v); last output:\n%s", name, ctx.Err(), lastErr, p.tail(30))
		case <-tick.C:
		}
	}
}

func (c *Cluster) startEtcd(ctx context.Context, bins string, ports []int) (string, error) {
	clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	args := []string{
		"--name=k8stest",
		"--data-dir=" + filepath.Join(c.dir, "etcd"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=k8stest=" + peerURL,
		// A test cluster's data dies with the test; fsync would only slow every write.
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}
	client := &http.Client{Timeout: 2 * time.Second}
	err := c.launch(ctx, Etcd, filepath.Join(bins, Etcd), args, func(ctx context.Context) error {
		return get(ctx, client, clientURL+"/health", `"health":"true"`)
	})
	return clientURL, err
}

func (c *Cluster) startAPIServer(ctx context.Context, bins, etcdURL string, port int) (string, error) {
	url := "https://127.0.0.1:" + strconv.Itoa(port)
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The endpoint reconciler publishes the advertise address as the kubernetes Service's
		// endpoint and refuses a loopback one; nothing in the cluster could dial it anyway.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(c.dir, "apiserver-certs"),
		"--tls-cert-file=" + c.pki.serverCertFile,
		"--tls-private-key-file=" + c.pki.serverKeyFile,
		"--client-ca-file=" + c.pki.caFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.pki.saKeyFile,
		"--service-account-signing-key-file=" + c.pki.saKeyFile,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		// The ServiceAccount admission plugin rejects pods until the namespace's default
		// ServiceAccount exists, which takes a controller this cluster does not run.
		"--disable-admission-plugins=ServiceAccount",
		"--profiling=false",
	}
	tlsConfig, err := c.clientTLS()
	if err != nil {
		return "", err
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	defer client.CloseIdleConnections()
	err = c.launch(ctx, KubeAPIServer, filepath.Join(bins, KubeAPIServer), args, func(ctx context.Context) error {
		// /readyz turns ok only after the post-start hooks (RBAC bootstrap, CRD and API
		// service registration) have run, unlike /healthz.
		return get(ctx, client, url+"/readyz", "ok")
	})
	return url, err
}

func (c *Cluster) startControllerManager(ctx context.Context, bins string, port int) error {
	args := []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--authentication-kubeconfig=" + c.Kubeconfig,
		"--authorization-kubeconfig=" + c.Kubeconfig,
		"--controllers=garbage-collector-controller,namespace-controller,endpointslice-controller",
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(c.dir, "controller-manager-certs"),
		"--profiling=false",
	}
	// The controller manager serves a self-signed certificate of its own making; /healthz
	// carries no secrets, so not verifying it is harmless.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
	}}
	defer client.CloseIdleConnections()
	url := "https://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	return c.launch(ctx, KubeControllerManager, filepath.Join(bins, KubeControllerManager), args,
		func(ctx context.Context) error { return get(ctx, client, url, "ok") })
}

func (c *Cluster) clientTLS() (*tls.Config, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(c.pki.caPEM) {
		return nil, errors.New("parse CA certificate")
	}
	cert, err := tls.X509KeyPair(c.pki.adminCertPEM, c.pki.adminKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("admin key pair: %w", err)
	}
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func (c *Cluster) kubeconfig() []byte {
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: k8stest
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: k8stest
  context:
    cluster: k8stest
    user: admin
current-context: k8stest
`, c.URL, b64(c.pki.caPEM), b64(c.pki.adminCertPEM), b64(c.pki.adminKeyPEM))
}

// stop ends the components, dependents first, so the controller manager and the API server
// do not spend their shutdown retrying a storage that is already gone.
func (c *Cluster) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(15 * time.Second)
	}
	c.procs = nil
}

// get fetches url and wants a 200 whose body contains want.
func get(ctx context.Context, client *http.Client, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
