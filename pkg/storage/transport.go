package storage

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrInsecureRegistry is matched by errors.Is when ctr refuses plain HTTP.
var ErrInsecureRegistry = errors.New("refusing plain HTTP")

// newTransport returns the HTTP transport for registry traffic.
// go-containerregistry silently talks plain HTTP to any RFC 1918, .local or
// loopback registry; ctr allows that only for loopback (the registry is on
// this machine, as podman treats localhost) unless the user passed
// --tls-verify=false, which also skips certificate checks.
func newTransport(insecure bool) http.RoundTripper {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for --tls-verify=false
	}
	return &schemePolicy{next: t, allowHTTP: insecure}
}

type schemePolicy struct {
	next      http.RoundTripper
	allowHTTP bool
}

func (p *schemePolicy) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !p.allowHTTP && !isLoopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("%w to %s: use --tls-verify=false if this registry really has no TLS", ErrInsecureRegistry, req.URL.Host)
	}
	return p.next.RoundTrip(req)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
