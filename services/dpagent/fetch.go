package dpagent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

// Fetcher asks the control plane for the Envoy bootstrap.
type Fetcher struct {
	url       string
	client    *http.Client
	transport *http.Transport
	backoff   time.Duration
	maxWait   time.Duration
	tokenPath string
	token     string
	log       *slog.Logger
}

// NewFetcher builds a fetcher for c.CPAddress. Over https it verifies the control plane
// against CACert/CACertFile or, without them, the system roots, as kuma-dp does.
func NewFetcher(c *Config, log *slog.Logger) (*Fetcher, error) {
	u, err := url.Parse(c.CPAddress)
	if err != nil {
		return nil, fmt.Errorf("--cp-address: %w", err)
	}
	u.Path, u.RawQuery = "/bootstrap", ""
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	caPEM := c.CACert
	if caPEM == "" && c.CACertFile != "" {
		b, err := os.ReadFile(c.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert-file: %w", err)
		}
		caPEM = string(b)
	}
	switch {
	case c.SkipVerify:
		log.Warn("--skip-verify is set: the control plane certificate will not be verified")
		tlsCfg.InsecureSkipVerify = true // #nosec G402 -- opt-in via --skip-verify
	case caPEM != "":
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(caPEM)) {
			return nil, errors.New("--ca-cert-file: no PEM certificate found")
		}
		tlsCfg.RootCAs = pool
	}
	tr := &http.Transport{TLSClientConfig: tlsCfg} // no HTTP(S)_PROXY, as kuma-dp
	return &Fetcher{
		url: u.String(), transport: tr, client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		backoff: c.RetryBackoff, maxWait: c.RetryMaxDuration,
		tokenPath: c.TokenPath, token: c.Token, log: log,
	}, nil
}

// errRetry marks errors worth another attempt: the Dataplane is not there yet, the control
// plane is down or answered 5xx.
type errRetry struct{ err error }

func (e errRetry) Error() string { return e.err.Error() }
func (e errRetry) Unwrap() error { return e.err }

// ErrDataplaneNotFound is the control plane's 404 with an empty body.
var ErrDataplaneNotFound = errors.New("Dataplane entity not found. If you are running on Universal please create a Dataplane entity on kuma-cp before starting kuma-dp or pass it to kuma-dp run --dataplane-file=/file") //nolint:staticcheck // kuma-dp's message

// Fetch posts req until the control plane answers, retrying "not found yet" and connection
// errors every backoff until the retry budget or ctx runs out; other 4xx answers and
// certificate problems fail at once.
func (f *Fetcher) Fetch(ctx context.Context, req bootstrap.Request) (*bootstrap.Response, error) {
	defer f.transport.CloseIdleConnections()
	deadline := time.Now().Add(f.maxWait)
	for attempt := 1; ; attempt++ {
		resp, err := f.once(ctx, req)
		var retry errRetry
		if err == nil || !errors.As(err, &retry) {
			return resp, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Like kuma-dp's retry.WithMaxDuration: the last wait is cut to the time left.
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("gave up after %d attempts in %s: %w", attempt, f.maxWait, retry.err)
		}
		if errors.Is(err, ErrDataplaneNotFound) {
			f.log.Info("Dataplane not found in the control plane yet, retrying", "backoff", f.backoff)
		} else {
			f.log.Info("could not fetch the bootstrap, retrying", "backoff", f.backoff, "err", err.Error())
		}
		if err := sleep(ctx, min(f.backoff, left)); err != nil {
			return nil, err
		}
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (f *Fetcher) once(ctx context.Context, req bootstrap.Request) (*bootstrap.Response, error) {
	token, err := f.readToken()
	if err != nil {
		return nil, err
	}
	req.DataplaneToken = token
	body, err := json.MarshalIndent(req, "", " ")
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("accept", "application/json")
	hr.Header.Set("content-type", "application/json")
	resp, err := f.client.Do(hr)
	if err != nil {
		if isCertError(err) {
			return nil, fmt.Errorf("verify the control plane at %s: %w; pass the CA that signed its certificate with --ca-cert-file (KUMA_CONTROL_PLANE_CA_CERT_FILE)", f.url, certCause(err))
		}
		return nil, errRetry{fmt.Errorf("request to %s failed: %w", f.url, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, errRetry{fmt.Errorf("read the response from %s: %w", f.url, err)}
	}
	return decodeResponse(f.url, resp.StatusCode, data)
}

func decodeResponse(u string, status int, data []byte) (*bootstrap.Response, error) {
	msg := oneLine(strings.TrimSpace(string(data)))
	switch {
	case status == http.StatusOK:
		out := &bootstrap.Response{}
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("the control plane's bootstrap response is not JSON: %w", err)
		}
		if len(out.Bootstrap) == 0 {
			return nil, errors.New("the control plane's bootstrap response has no bootstrap")
		}
		return out, nil
	case status == http.StatusNotFound && msg == "":
		return nil, errRetry{ErrDataplaneNotFound}
	case status == http.StatusNotFound:
		return nil, fmt.Errorf("there is no /bootstrap endpoint at %s (404: %s); --cp-address must point at the DP server port (5678 by default), not the HTTP API (5681)", u, msg)
	case status/100 == 4:
		return nil, fmt.Errorf("the control plane rejected the bootstrap request (%d): %s", status, msg)
	default:
		return nil, errRetry{fmt.Errorf("unexpected status %d from %s: %s", status, u, msg)}
	}
}

func (f *Fetcher) readToken() (string, error) {
	token := f.token
	if token == "" && f.tokenPath != "" {
		b, err := os.ReadFile(f.tokenPath)
		if err != nil {
			return "", fmt.Errorf("--dataplane-token-file: %w", err)
		}
		token = string(b)
	}
	return strings.TrimSpace(token), nil
}

func isCertError(err error) bool {
	var verr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verr) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid)
}

// certCause drops the "Post <url>:" wrapping so the message stays short.
func certCause(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
