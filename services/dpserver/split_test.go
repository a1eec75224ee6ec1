package dpserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
)

// pathService answers with the transport that served the call: grpc.Server.ServeHTTP puts
// the *http.Server in the context, grpc-go's own transport does not. It refuses calls whose
// peer has no TLS state, which handlers (and tokens bound to connections) rely on.
type pathService struct {
	testpb.UnimplementedTestServiceServer
}

func (pathService) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, errors.New("no peer")
	}
	if info, ok := p.AuthInfo.(credentials.TLSInfo); !ok || !info.State.HandshakeComplete {
		return nil, fmt.Errorf("peer auth info %T, want completed TLS", p.AuthInfo)
	}
	if ctx.Value(http.ServerContextKey) != nil {
		return &testpb.SimpleResponse{ServerId: "net/http"}, nil
	}
	return &testpb.SimpleResponse{ServerId: "native"}, nil
}

// startSplit starts a DP server whose HTTP handler echoes the protocol and TLS state.
func startSplit(t *testing.T) (*Server, *x509.CertPool) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Port, cfg.CertDir = 0, t.TempDir()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s tls=%t", r.Method, r.Proto, r.TLS != nil && r.TLS.HandshakeComplete)
	})
	s := New(cfg, h, slog.New(slog.DiscardHandler))
	testpb.RegisterTestServiceServer(s.GRPC(), pathService{})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CACertPEM())
	return s, pool
}

func TestOnePortServesGRPCAndHTTP(t *testing.T) {
	s, pool := startSplit(t)
	addr := s.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("gRPC on its own transport", func(t *testing.T) {
		// grpc-go sends no request before the server's SETTINGS: this also proves the splitter
		// sends one.
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for range 3 {
			resp, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetServerId() != "native" {
				t.Fatalf("served by %s, want grpc-go's own transport", resp.GetServerId())
			}
		}
	})

	t.Run("HTTP/1.1", func(t *testing.T) {
		// As kuma-dp and jetmesh-dp fetch /bootstrap: a Transport with its own TLS config,
		// which Go limits to HTTP/1.1.
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		defer c.CloseIdleConnections()
		if got := post(ctx, t, c, addr, "/bootstrap", "application/json", nil); got != "POST HTTP/1.1 tls=true" {
			t.Fatalf("got %q", got)
		}
	})

	t.Run("HTTP/2 without gRPC, then gRPC on the same connection", func(t *testing.T) {
		// curl and Go's default client negotiate h2.
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		reused := 0
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			if i.Reused {
				reused++
			}
		}}
		tctx := httptrace.WithClientTrace(ctx, trace)
		for range 3 {
			if got := post(tctx, t, c, addr, "/bootstrap", "application/json", nil); got != "POST HTTP/2.0 tls=true" {
				t.Fatalf("got %q", got)
			}
		}
		// A gRPC request on a connection that began with plain HTTP is still served, the
		// way it was before the split.
		if id := grpcOverHTTP2(tctx, t, c, addr); id != "net/http" {
			t.Fatalf("gRPC on the HTTP/2 fallback served by %q", id)
		}
		// One connection for all four: the acknowledgement of the splitter's SETTINGS did
		// not make net/http's HTTP/2 server hang up.
		if reused != 3 {
			t.Fatalf("%d of 3 later requests reused the connection", reused)
		}
	})
}

func post(ctx context.Context, t *testing.T, c *http.Client, addr, path, contentType string, body []byte) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// grpcOverHTTP2 makes a unary gRPC call by hand (length-prefixed message, grpc-status trailer).
func grpcOverHTTP2(ctx context.Context, t *testing.T, c *http.Client, addr string) string {
	t.Helper()
	msg, err := proto.Marshal(&testpb.SimpleRequest{})
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:5], uint32(len(msg)))
	copy(frame[5:], msg)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+"/grpc.testing.TestService/UnaryCall", bytes.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.Trailer.Get("Grpc-Status"); st != "0" {
		t.Fatalf("grpc-status %q: %s", st, resp.Trailer.Get("Grpc-Message"))
	}
	if len(b) < 5 {
		t.Fatalf("short gRPC response %x", b)
	}
	var out testpb.SimpleResponse
	if err := proto.Unmarshal(b[5:], &out); err != nil {
		t.Fatal(err)
	}
	return out.GetServerId()
}

// Stop returns with connections in every state the splitter owns: before the handshake,
// after an h2 handshake with no request yet, and on the HTTP/2 fallback.
func TestStopWithConnectionsInFlight(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Port, cfg.CertDir = 0, t.TempDir()
	s := New(cfg, http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CACertPEM())
	addr := s.Addr().String()

	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	quiet, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s", resp.Proto)
	}
	// The server holds three connections now; Stop must close them rather than wait for their
	// handshake timeouts or for the clients.
	s.mu.Lock()
	owned := len(s.owned)
	s.mu.Unlock()
	if owned == 0 {
		t.Fatal("the splitter owns no connection")
	}

	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(handshakeTimeout / 2):
		t.Fatal("Stop waits for connections it should close")
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("still listening after Stop")
	}
	// The splitter's SETTINGS frame may still be unread; the close must follow it.
	_ = quiet.SetReadDeadline(time.Now().Add(handshakeTimeout / 2))
	if _, err := io.Copy(io.Discard, quiet); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the connection waiting for its first request is still open after Stop")
		}
	}
}

// Settings that may not change once announced (RFC 9218 §2.1, RFC 8441 §3): the splitter's
// SETTINGS frame comes first, so the server behind it must not contradict it. nghttp2 (curl)
// hangs up on a change.
func TestServerSettingsAgreeWithTheSplitters(t *testing.T) {
	s, pool := startSplit(t)
	for _, ct := range []string{"application/json", "application/grpc"} {
		t.Run(ct, func(t *testing.T) {
			c, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			var hb bytes.Buffer
			enc := hpack.NewEncoder(&hb)
			for _, f := range [][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", "dp"},
				{":path", "/grpc.testing.TestService/UnaryCall"}, {"content-type", ct}, {"te", "trailers"}} {
				_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
			}
			fr := http2.NewFramer(c, c)
			fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
			if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
				t.Fatal(err)
			}
			if err := fr.WriteSettings(); err != nil {
				t.Fatal(err)
			}
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: true}); err != nil {
				t.Fatal(err)
			}
			first := map[http2.SettingID]uint32(nil)
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					t.Fatalf("before the response ended: %v", err)
				}
				switch f := f.(type) {
				case *http2.SettingsFrame:
					if f.IsAck() {
						continue
					}
					got := map[http2.SettingID]uint32{}
					_ = f.ForeachSetting(func(st http2.Setting) error { got[st.ID] = st.Val; return nil })
					if first == nil {
						first = got
					} else {
						for _, id := range []http2.SettingID{http2.SettingNoRFC7540Priorities} {
							if v, ok := got[id]; ok && v != first[id] {
								t.Fatalf("%v changed from %d to %d", id, first[id], v)
							}
						}
					}
					if err := fr.WriteSettingsAck(); err != nil {
						t.Fatal(err)
					}
				case *http2.GoAwayFrame:
					t.Fatalf("GOAWAY %v %q", f.ErrCode, f.DebugData())
				case *http2.RSTStreamFrame:
					t.Fatalf("RST_STREAM %v", f.ErrCode)
				case *http2.MetaHeadersFrame:
					if f.StreamEnded() {
						return
					}
				case *http2.DataFrame:
					if f.StreamEnded() {
						return
					}
				}
			}
		})
	}
}
