// Package k8stest runs a real Kubernetes control plane for tests: etcd and kube-apiserver,
// and on request kube-controller-manager (garbage collector, namespace and endpointslice
// controllers), on random loopback ports, with their own CA and an admin client
// certificate. Fakes cannot test admission, defaulting, CRD validation or garbage
// collection; this can. There is no kubelet: tests set Pod status themselves.
//
// The binaries come from deploy/k8stools/build.sh (Kubernetes v1.37.1 built from the Go
// module proxy) in ${XDG_CACHE_HOME:-~/.cache}/jetmesh/k8s-v1.37.1, or JETMESH_K8S_BIN_DIR.
// Without them a test skips, and fails under CI (whose .ci/run builds them).
package k8stest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Version is the Kubernetes version the binaries are built from.
const Version = "v1.37.1"

// BinDir is where deploy/k8stools/build.sh puts the binaries.
func BinDir() string {
	if d := os.Getenv("JETMESH_K8S_BIN_DIR"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = filepath.Join(os.TempDir(), "cache")
	}
	return filepath.Join(cache, "jetmesh", "k8s-"+Version)
}

// Cluster is a running control plane.
type Cluster struct {
	// Config reaches the API server as an admin (system:masters).
	Config *rest.Config
	// Kubeconfig is a kubeconfig file with the same credentials.
	Kubeconfig string
	// Client is a typed client over Config.
	Client *kubernetes.Clientset
}

// Options choose what runs besides etcd and kube-apiserver.
type Options struct {
	// ControllerManager runs kube-controller-manager with the garbage collector, namespace and
	// endpointslice controllers.
	ControllerManager bool
}

// Start runs a cluster until the test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	bins := BinDir()
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		if _, err := os.Stat(filepath.Join(bins, b)); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing in %s: .ci/run builds it with deploy/k8stools/build.sh", b, bins)
			}
			t.Skipf("%s is missing in %s: run deploy/k8stools/build.sh (about 6 minutes, once)", b, bins)
		}
	}
	dir := t.TempDir()
	pki, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 4)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	start(t, "etcd", filepath.Join(bins, "etcd"),
		"--data-dir", filepath.Join(dir, "etcd"), "--name", "default",
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--initial-advertise-peer-urls", "http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--initial-cluster", "default=http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--unsafe-no-fsync", "--log-level", "warn")
	apiURL := "https://127.0.0.1:" + strconv.Itoa(ports[2])
	apiExited := start(t, "kube-apiserver", filepath.Join(bins, "kube-apiserver"),
		"--etcd-servers", etcdURL, "--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(ports[2]),
		"--advertise-address", "127.0.0.1",
		"--cert-dir", filepath.Join(dir, "apiserver"),
		"--tls-cert-file", pki.serverCert, "--tls-private-key-file", pki.serverKey,
		"--client-ca-file", pki.caCert,
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", pki.saKey, "--service-account-signing-key-file", pki.saKey,
		"--service-cluster-ip-range", "10.0.0.0/24", "--authorization-mode", "RBAC",
		// The kubernetes Service's endpoints cannot be a loopback address; nothing needs them.
		"--endpoint-reconciler-type", "none",
		// No serviceaccount controller runs to create the default accounts Pods would need.
		"--disable-admission-plugins", "ServiceAccount")
	cfg := &rest.Config{Host: apiURL, TLSClientConfig: rest.TLSClientConfig{
		CAFile: pki.caCert, CertFile: pki.clientCert, KeyFile: pki.clientKey}, QPS: 100, Burst: 200}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, client, apiExited)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: %q, certificate-authority: %q}}]
users: [{name: admin, user: {client-certificate: %q, client-key: %q}}]
contexts: [{name: test, context: {cluster: test, user: admin}}]
current-context: test
`, apiURL, pki.caCert, pki.clientCert, pki.clientKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	if opts.ControllerManager {
		start(t, "kube-controller-manager", filepath.Join(bins, "kube-controller-manager"),
			"--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
			"--controllers", "garbagecollector,namespace,endpointslice", "--leader-elect=false",
			"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(ports[3]),
			"--cert-dir", filepath.Join(dir, "controller-manager"))
	}
	return &Cluster{Config: cfg, Kubeconfig: kubeconfig, Client: client}
}

// start runs a binary until the test ends; its output goes to the test log when it fails.
// The channel closes when the process exits.
func start(t testing.TB, name, path string, args ...string) <-chan struct{} {
	t.Helper()
	log := &lockedBuffer{}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, log.String())
		}
	})
	return exited
}

// waitReady waits for the API server's /readyz, with a deadline, and fails at once when the
// API server exits.
func waitReady(t testing.TB, client *kubernetes.Clientset, exited <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return
		}
		last = fmt.Errorf("%v %s", err, body)
		select {
		case <-exited:
			t.Fatalf("kube-apiserver exited before it was ready (last: %v)", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("kube-apiserver not ready within 60s: %v", last)
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var out []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return out
}

// pki is the cluster's CA, the API server's serving certificate, an admin client
// certificate and the service-account signing key, as files.
type pki struct {
	caCert, serverCert, serverKey, clientCert, clientKey, saKey string
}

func newPKI(dir string) (pki, error) {
	p := pki{caCert: filepath.Join(dir, "ca.crt"), serverCert: filepath.Join(dir, "apiserver.crt"),
		serverKey: filepath.Join(dir, "apiserver.key"), clientCert: filepath.Join(dir, "admin.crt"),
		clientKey: filepath.Join(dir, "admin.key"), saKey: filepath.Join(dir, "sa.key")}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jetmesh-test-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return p, err
	}
	if err := writePEM(p.caCert, "CERTIFICATE", caDER); err != nil {
		return p, err
	}
	issue := func(certFile, keyFile string, tmpl *x509.Certificate) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
			return err
		}
		return writePEM(keyFile, "EC PRIVATE KEY", kb)
	}
	if err := issue(p.serverCert, p.serverKey, &x509.Certificate{SerialNumber: big.NewInt(2),
		Subject: pkix.Name{CommonName: "kube-apiserver"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}); err != nil {
		return p, err
	}
	if err := issue(p.clientCert, p.clientKey, &x509.Certificate{SerialNumber: big.NewInt(3),
		Subject:     pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return p, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	sb, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return p, err
	}
	return p, writePEM(p.saKey, "EC PRIVATE KEY", sb)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// lockedBuffer collects a process's output from its two pipes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
