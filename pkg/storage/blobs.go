package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// registrySession is one authenticated connection setup to a repository,
// shared by go-containerregistry (manifests and the config, which it
// verifies) and ctr's own layer blob downloads.
//
// Why ctr downloads layer blobs itself: go-containerregistry verifies every
// blob it returns, hashing it, but reports a mismatch only as text. ctr needs
// its own check anyway (the typed ErrDigestMismatch, a size check that sees
// bytes past the declared size, a verdict that cannot be lost if a library
// changes), and hashing 100 MB once more costs ~0.12 CPU-seconds, on the
// critical path of the first layers. A raw GET through the same
// authenticated transport leaves exactly one check, ctr's verifyingReader.
//
// The transport is built the way remote.Get builds its own (retries, user
// agent, then the ping and token exchange of transport.NewWithContext), once;
// remote.Get receives the result, a *transport.Wrapper, and uses it as is,
// so the session costs no extra round trip.
type registrySession struct {
	repo   name.Repository
	rt     http.RoundTripper
	client *http.Client
}

// Retry policy: go-containerregistry's defaults for remote (three tries, 1 s
// then 3 s apart, on network flakes and on these statuses).
var (
	retryBackoff     = transport.Backoff{Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: 3}
	retryStatusCodes = []int{
		http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		499, // nginx: client closed request
		522, // Cloudflare: connection timed out
	}
)

// retryable is go-containerregistry's default retry predicate for remote.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var temp interface{ Temporary() bool }
	if errors.As(err, &temp) && temp.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// openRegistry pings the registry of repo and authenticates for pulling
// from repo (credentials from keychain).
func openRegistry(ctx context.Context, repo name.Repository, insecure bool, keychain authn.Keychain, userAgent string) (*registrySession, error) {
	t := transport.NewRetry(newTransport(insecure),
		transport.WithRetryBackoff(retryBackoff),
		transport.WithRetryPredicate(retryable),
		transport.WithRetryStatusCodes(retryStatusCodes...))
	t = transport.NewUserAgent(t, userAgent)
	auth, err := authn.Resolve(ctx, keychain, repo)
	if err != nil {
		return nil, err
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, t, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	return &registrySession{
		repo:   repo,
		rt:     rt,
		client: &http.Client{Transport: rt, CheckRedirect: checkRedirect},
	}, nil
}

// openBlob starts the download of a blob of the session's repository. The
// stream is not verified: the caller wraps it in a verifyingReader.
func (r *registrySession) openBlob(ctx context.Context, d v1.Hash, size int64) (io.ReadCloser, error) {
	if err := validDigest(d); err != nil {
		return nil, err
	}
	u := url.URL{
		Scheme: r.repo.Scheme(),
		Host:   r.repo.RegistryStr(),
		Path:   fmt.Sprintf("/v2/%s/blobs/%s", r.repo.RepositoryStr(), d),
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		return nil, err
	}
	if resp.ContentLength >= 0 && resp.ContentLength != size {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: blob %s is served with Content-Length %d, its descriptor says %d bytes",
			ErrDigestMismatch, d, resp.ContentLength, size)
	}
	return resp.Body, nil
}

// validDigest refuses digests that could not name a blob (a manifest is
// untrusted input, and the digest goes into a URL path; RELIABILITY M6).
func validDigest(d v1.Hash) error {
	if d.Algorithm != "sha256" || len(d.Hex) != 64 || strings.Trim(d.Hex, "0123456789abcdef") != "" {
		return fmt.Errorf("invalid blob digest %q", d)
	}
	return nil
}

// checkRedirect allows a blob download to follow a redirect (registries send
// blobs from a CDN) unless it leads from the registry to another host on a
// loopback, private, link-local or unspecified address: a registry must not
// make ctr fetch from the user's own network (SSRF; go-containerregistry's
// fetcher has the same rule, RELIABILITY M8). Credentials never follow: the
// authenticating transport adds them only for the registry's host, and
// net/http drops Authorization on cross-host redirects.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if len(via) == 0 {
		return nil
	}
	from, to := via[0].URL.Hostname(), req.URL.Hostname()
	if to == from {
		return nil
	}
	if addr, ok := parseIPHost(to); ok && (addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() ||
		addr.IsLinkLocalMulticast() || addr.IsUnspecified()) {
		return fmt.Errorf("refusing a redirect from %s to %s: a private, loopback or link-local address", from, to)
	}
	return nil
}

// parseIPHost parses host as an IP address in any form a resolver may
// accept, including the inet_aton ones ("127.1", "0x7f.0.0.1", "2130706433").
func parseIPHost(host string) (netip.Addr, bool) {
	host, _, _ = strings.Cut(host, "%") // zone
	if a, err := netip.ParseAddr(host); err == nil {
		return a.WithZone("").Unmap(), true
	}
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 0, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 0xff {
				return netip.Addr{}, false
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(4-i)) {
			return netip.Addr{}, false
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}
