package dpserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/credentials"
)

// Port 5678 carries three kinds of connection after the TLS handshake:
//
//   - ALPN other than h2 (kuma-dp's and jetmesh-dp's bootstrap client, curl --http1.1): HTTP/1.1,
//     served by net/http.
//   - h2 whose first request is gRPC (Envoy's and grpc-go's ADS): served by grpc-go's own
//     HTTP/2 transport, which costs a fraction of grpc.Server.ServeHTTP per stream.
//   - other h2 (curl and Go's http.Client negotiate h2 by default): served by an HTTP/2
//     server that still dispatches any later gRPC request to grpc.Server.ServeHTTP, so every
//     connection is served exactly as before the split; the split only picks the cheaper
//     server when it is sure.
//
// Deciding on h2 needs the first HEADERS frame. grpc-go clients send no request before they
// have the server's SETTINGS, so the splitter sends a SETTINGS frame first, as RFC 9113 §3.4
// allows (splitterSettings). The client then acknowledges two SETTINGS frames: grpc-go's
// server ignores acknowledgements, net/http's HTTP/2 server closes the connection on one it
// did not ask for, so on that path the first acknowledgement is removed (ackFilter).

// maxSniff bounds what is buffered before the first request is known: preface, SETTINGS,
// WINDOW_UPDATE and one header block of a well-behaved client take a few hundred bytes.
const maxSniff = 64 << 10

// splitterSettings is the server's first SETTINGS frame, sent before the server behind the
// splitter is known. Both servers send their own SETTINGS after it, so it announces only what
// may not change afterwards and both agree on: SETTINGS_NO_RFC7540_PRIORITIES=1 (RFC 9218
// §2.1; net/http's HTTP/2 server announces it, grpc-go ignores RFC 7540 priorities and does
// not mention it; nghttp2, hence curl, hangs up if the value changes).
var splitterSettings = []byte{0, 0, 6, byte(http2.FrameSettings), 0, 0, 0, 0, 0,
	0, byte(http2.SettingNoRFC7540Priorities), 0, 0, 0, 1}

// errNotH2 is a connection that negotiated h2 but did not send the HTTP/2 client preface.
var errNotH2 = errors.New("no HTTP/2 client preface")

// sniffH2 sends the server's first SETTINGS frame and reads up to the end of the first header
// block. It returns every byte read, to be replayed, and whether the request is gRPC.
func sniffH2(c net.Conn) (read []byte, isGRPC bool, err error) {
	if _, err := c.Write(splitterSettings); err != nil {
		return nil, false, fmt.Errorf("write SETTINGS: %w", err)
	}
	var buf bytes.Buffer
	r := io.TeeReader(io.LimitReader(c, maxSniff), &buf)
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(r, preface); err != nil {
		return buf.Bytes(), false, fmt.Errorf("read preface: %w", err)
	}
	if string(preface) != http2.ClientPreface {
		return buf.Bytes(), false, errNotH2
	}
	fr := http2.NewFramer(io.Discard, r)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = maxSniff
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return buf.Bytes(), false, fmt.Errorf("read frame: %w", err)
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			ct := ""
			for _, hf := range f.RegularFields() {
				if hf.Name == "content-type" {
					ct = hf.Value
				}
			}
			return buf.Bytes(), strings.HasPrefix(ct, "application/grpc"), nil
		case *http2.SettingsFrame, *http2.WindowUpdateFrame, *http2.PriorityFrame, *http2.PingFrame:
			continue
		default:
			// Anything else before a request is unusual: let the general server judge it.
			return buf.Bytes(), false, nil
		}
	}
}

// replayConn is a TLS connection whose first bytes were already read by the splitter.
type replayConn struct {
	*tls.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil // let the sniffed bytes go
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// ackFilter passes an HTTP/2 client's byte stream through, without the first SETTINGS
// acknowledgement (the one for the splitter's SETTINGS frame).
type ackFilter struct {
	*replayConn
	prefaceLeft int    // bytes of the client preface still to pass
	frameLeft   int    // payload bytes of the current frame still to pass
	header      []byte // a frame header read but not yet passed
	dropped     bool
}

func newACKFilter(c *replayConn) *ackFilter {
	return &ackFilter{replayConn: c, prefaceLeft: len(http2.ClientPreface)}
}

func (f *ackFilter) Read(p []byte) (int, error) {
	if f.dropped && f.prefaceLeft == 0 && f.frameLeft == 0 && len(f.header) == 0 {
		return f.replayConn.Read(p)
	}
	if len(f.header) > 0 {
		n := copy(p, f.header)
		f.header = f.header[n:]
		return n, nil
	}
	if f.prefaceLeft > 0 || f.frameLeft > 0 {
		left := &f.frameLeft
		if f.prefaceLeft > 0 {
			left = &f.prefaceLeft
		}
		if len(p) > *left {
			p = p[:*left]
		}
		n, err := f.replayConn.Read(p)
		*left -= n
		return n, err
	}
	for {
		var h [9]byte
		if _, err := io.ReadFull(f.replayConn, h[:]); err != nil {
			return 0, err
		}
		length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		if !f.dropped && http2.FrameType(h[3]) == http2.FrameSettings && http2.Flags(h[4]).Has(http2.FlagSettingsAck) && length == 0 {
			f.dropped = true
			if len(p) == 0 {
				return 0, nil
			}
			continue
		}
		f.frameLeft = length
		n := copy(p, h[:])
		f.header = append([]byte(nil), h[n:]...)
		return n, nil
	}
}

// tlsInfoCreds hands grpc-go a connection the splitter already secured, with the TLS state a
// handler reads from peer.FromContext, as grpc.Server.ServeHTTP provided it.
type tlsInfoCreds struct{}

func (tlsInfoCreds) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("dp server: server-side credentials only")
}

func (tlsInfoCreds) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	rc, ok := c.(*replayConn)
	if !ok {
		return nil, nil, fmt.Errorf("dp server: connection %T did not come through the splitter", c)
	}
	return c, credentials.TLSInfo{
		State:          rc.ConnectionState(),
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
	}, nil
}

func (tlsInfoCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls", SecurityVersion: "1.2"}
}

func (c tlsInfoCreds) Clone() credentials.TransportCredentials { return c }

func (tlsInfoCreds) OverrideServerName(string) error { return nil }

// chanListener is the listener side of the connections the splitter routes to one server.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// deliver hands c to the server, or closes it when that server has stopped.
func (l *chanListener) deliver(ctx context.Context, c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	case <-ctx.Done():
		_ = c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
