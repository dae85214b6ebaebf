package e2e

import (
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// faultProxy sits in front of the real registry and misbehaves on request,
// chosen by the first component of the repository name:
//
//	PROXY/corrupt/REPO  serves REPO, flipping a byte of the blob named corruptDigest
//	PROXY/slow/REPO     serves REPO, blobs throttled to slowRate bytes/s
//
// Anything else is passed through unchanged.
type faultProxy struct {
	srv           *http.Server
	ln            net.Listener
	corruptDigest string

	mu     sync.Mutex
	served int64 // bytes of blobs sent by the slow path
}

const slowRate = 256 << 10

func startFaultProxy(upstream, corruptDigest string) (*faultProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &faultProxy{ln: ln, corruptDigest: corruptDigest}
	target := &url.URL{Scheme: "http", Host: upstream}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.URL.Path = stripFault(r.In.URL.Path)
			r.Out.URL.RawPath = ""
			r.Out.Header.Set("X-Ctr-Original-Path", r.In.URL.Path)
		},
		ModifyResponse: p.modify,
	}
	p.srv = &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Addr is host:port of the proxy.
func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// Close stops the proxy.
func (p *faultProxy) Close() error { return p.srv.Close() }

// SlowBytes returns how many blob bytes the slow path has sent in all.
func (p *faultProxy) SlowBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.served
}

func fault(path string) string {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return ""
	}
	first, _, _ := strings.Cut(rest, "/")
	if first == "corrupt" || first == "slow" {
		return first
	}
	return ""
}

func stripFault(path string) string {
	if f := fault(path); f != "" {
		return "/v2/" + strings.TrimPrefix(path, "/v2/"+f+"/")
	}
	return path
}

func (p *faultProxy) modify(resp *http.Response) error {
	path := resp.Request.URL.Path
	digest := ""
	if i := strings.Index(path, "/blobs/"); i >= 0 {
		digest = path[i+len("/blobs/"):]
	}
	if digest == "" || resp.StatusCode != http.StatusOK || resp.Request.Method != http.MethodGet {
		return nil
	}
	// The original path (with the fault prefix) is gone from resp.Request;
	// the proxy handler keeps it in the inbound request header we set.
	switch fault(resp.Request.Header.Get("X-Ctr-Original-Path")) {
	case "corrupt":
		if digest == p.corruptDigest {
			resp.Body = &flipReader{r: resp.Body, at: resp.ContentLength / 2}
		}
	case "slow":
		resp.Body = &slowReader{r: resp.Body, p: p}
	}
	return nil
}

// flipReader inverts the byte at offset at: same size, wrong digest.
type flipReader struct {
	r   io.ReadCloser
	off int64
	at  int64
}

func (f *flipReader) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if f.at >= f.off && f.at < f.off+int64(n) {
		b[f.at-f.off] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}

func (f *flipReader) Close() error { return f.r.Close() }

type slowReader struct {
	r io.ReadCloser
	p *faultProxy
}

func (s *slowReader) Read(b []byte) (int, error) {
	const chunk = 16 << 10
	if len(b) > chunk {
		b = b[:chunk]
	}
	time.Sleep(time.Second * chunk / slowRate)
	n, err := s.r.Read(b)
	s.p.mu.Lock()
	s.p.served += int64(n)
	s.p.mu.Unlock()
	return n, err
}

func (s *slowReader) Close() error { return s.r.Close() }
