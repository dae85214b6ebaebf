package storage

import (
	"bytes"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestParseIPHost(t *testing.T) {
	tests := []struct {
		host string
		want string // "" means not an address
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"::1", "::1"},
		{"::ffff:10.0.0.1", "10.0.0.1"},
		{"fe80::1%eth0", "fe80::1"},
		{"127.1", "127.0.0.1"},
		{"10.1.2", "10.1.0.2"},
		{"0x7f.0.0.1", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0xa9fea9fe", "169.254.169.254"},
		{"registry.example.com", ""},
		{"cafe.be", ""},
		{"1.2.3.4.5", ""},
		{"256.1.1.1", ""},
		{"1.2.3.256", ""},
		{"08.1.1.1", ""},
		{"", ""},
	}
	for _, tt := range tests {
		a, ok := parseIPHost(tt.host)
		got := ""
		if ok {
			got = a.String()
		}
		if got != tt.want {
			t.Errorf("parseIPHost(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
}

func TestCheckRedirect(t *testing.T) {
	req := func(u string) *http.Request {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		return &http.Request{URL: p}
	}
	from := []*http.Request{req("https://registry.example.com/v2/x/blobs/sha256:00")}
	tests := []struct {
		to      string
		via     []*http.Request
		allowed bool
	}{
		{"https://registry.example.com/other", from, true},
		{"https://cdn.example.net/blob", from, true},
		{"https://203.0.113.7/blob", from, true},
		{"http://127.0.0.1:5000/blob", from, false},
		{"http://127.1/blob", from, false},
		{"http://169.254.169.254/latest/meta-data", from, false},
		{"http://0xa9fea9fe/", from, false},
		{"http://10.0.0.8/blob", from, false},
		{"http://[::1]/blob", from, false},
		{"http://[fe80::1]/blob", from, false},
		{"http://0.0.0.0/blob", from, false},
		{"http://registry.example.com/x", make([]*http.Request, 10), false},
	}
	for _, tt := range tests {
		via := tt.via
		if len(via) == 10 {
			for i := range via {
				via[i] = from[0]
			}
		}
		err := checkRedirect(req(tt.to), via)
		if (err == nil) != tt.allowed {
			t.Errorf("checkRedirect(%s after %d) = %v, want allowed = %v", tt.to, len(via), err, tt.allowed)
		}
	}
	// A loopback registry may redirect to itself.
	local := []*http.Request{req("http://127.0.0.1:5000/v2/x/blobs/sha256:00")}
	if err := checkRedirect(req("http://127.0.0.1:5000/elsewhere"), local); err != nil {
		t.Errorf("same-host redirect refused: %v", err)
	}
}

func TestValidDigest(t *testing.T) {
	good := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	if err := validDigest(good); err != nil {
		t.Errorf("validDigest(%s) = %v", good, err)
	}
	for _, h := range []v1.Hash{
		{Algorithm: "sha512", Hex: strings.Repeat("ab", 64)},
		{Algorithm: "sha256", Hex: strings.Repeat("AB", 32)},
		{Algorithm: "sha256", Hex: strings.Repeat("ab", 31)},
		{Algorithm: "sha256", Hex: "../../" + strings.Repeat("a", 58)},
	} {
		if err := validDigest(h); err == nil {
			t.Errorf("validDigest(%s) = nil, want an error", h)
		}
	}
}

// testRegistry serves go-containerregistry's in-memory registry on
// loopback; wrap, if set, may misbehave on top of it.
func testRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestOpenBlob(t *testing.T) {
	var redirectTo string
	addr := testRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if redirectTo != "" && strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
				http.Redirect(w, r, redirectTo, http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	content := bytes.Repeat([]byte("blob "), 1000)
	layer := static.NewLayer(content, types.OCILayer)
	repo, err := name.NewRepository(addr+"/test/blobs", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(repo, layer); err != nil {
		t.Fatal(err)
	}
	d, _ := layer.Digest()
	sess, err := openRegistry(t.Context(), repo, false, fileKeychain{}, "ctr-test")
	if err != nil {
		t.Fatalf("openRegistry: %v", err)
	}

	rc, err := sess.openBlob(t.Context(), d, int64(len(content)))
	if err != nil {
		t.Fatalf("openBlob: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("openBlob read %d bytes, %v, want the %d bytes pushed", len(got), err, len(content))
	}

	t.Run("size differs from Content-Length", func(t *testing.T) {
		_, err := sess.openBlob(t.Context(), d, int64(len(content))+1)
		if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), "Content-Length") {
			t.Errorf("openBlob(wrong size) = %v, want ErrDigestMismatch naming Content-Length", err)
		}
	})
	t.Run("unknown blob", func(t *testing.T) {
		missing := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
		_, err := sess.openBlob(t.Context(), missing, 1)
		if err == nil || !strings.Contains(err.Error(), "BLOB_UNKNOWN") {
			t.Errorf("openBlob(missing) = %v, want the registry's BLOB_UNKNOWN", err)
		}
	})
	t.Run("invalid digest", func(t *testing.T) {
		_, err := sess.openBlob(t.Context(), v1.Hash{Algorithm: "sha256", Hex: "../x"}, 1)
		if err == nil || !strings.Contains(err.Error(), "invalid blob digest") {
			t.Errorf("openBlob(../x) = %v, want an invalid digest error", err)
		}
	})
	t.Run("redirect to another loopback host is refused", func(t *testing.T) {
		redirectTo = "http://127.0.0.2:1/blob"
		defer func() { redirectTo = "" }()
		_, err := sess.openBlob(t.Context(), d, int64(len(content)))
		if err == nil || !strings.Contains(err.Error(), "refusing a redirect") {
			t.Errorf("openBlob(redirect to 127.0.0.2) = %v, want the redirect refused", err)
		}
	})
}

func TestRetryable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{io.ErrUnexpectedEOF, true},
		{errors.New("boom"), false},
		{&url.Error{Op: "Get", URL: "x", Err: io.EOF}, true},
	} {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
