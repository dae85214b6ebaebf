package storage

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
)

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// readToEnd reads r with a small buffer, as a decompressor would, and
// returns the data and the error that ended it (io.EOF at a clean end).
func readToEnd(r io.Reader) ([]byte, error) {
	var out []byte
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

func TestVerifyingReader(t *testing.T) {
	content := bytes.Repeat([]byte("layer data "), 100)
	other := bytes.Repeat([]byte("LAYER DATA "), 100)
	tests := []struct {
		name     string
		src      io.Reader
		want     v1.Hash
		size     int64
		wantErr  error // io.EOF for success
		wantText string
	}{
		{
			name:    "correct content ends with io.EOF",
			src:     bytes.NewReader(content),
			want:    sha256Hash(content),
			size:    int64(len(content)),
			wantErr: io.EOF,
		},
		{
			name:    "correct content with EOF on the last data read",
			src:     iotest.DataErrReader(bytes.NewReader(content)),
			want:    sha256Hash(content),
			size:    int64(len(content)),
			wantErr: io.EOF,
		},
		{
			name:     "wrong content of the right size",
			src:      bytes.NewReader(other),
			want:     sha256Hash(content),
			size:     int64(len(content)),
			wantErr:  ErrDigestMismatch,
			wantText: "has content with digest " + sha256Hash(other).String(),
		},
		{
			name:     "wrong content with EOF on the last data read",
			src:      iotest.DataErrReader(bytes.NewReader(other)),
			want:     sha256Hash(content),
			size:     int64(len(content)),
			wantErr:  ErrDigestMismatch,
			wantText: "has content with digest",
		},
		{
			name:     "content longer than declared",
			src:      bytes.NewReader(append(bytes.Clone(content), '!')),
			want:     sha256Hash(content),
			size:     int64(len(content)),
			wantErr:  ErrDigestMismatch,
			wantText: "longer than its declared",
		},
		{
			name:     "content shorter than declared",
			src:      bytes.NewReader(content[:len(content)-1]),
			want:     sha256Hash(content),
			size:     int64(len(content)),
			wantErr:  ErrDigestMismatch,
			wantText: "ends after 1099 of its declared 1100 bytes",
		},
		{
			name:    "a transport error is passed through",
			src:     io.MultiReader(bytes.NewReader(content[:10]), iotest.ErrReader(io.ErrClosedPipe)),
			want:    sha256Hash(content),
			size:    int64(len(content)),
			wantErr: io.ErrClosedPipe,
		},
		{
			name:    "empty blob",
			src:     bytes.NewReader(nil),
			want:    sha256Hash(nil),
			size:    0,
			wantErr: io.EOF,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reported []int64
			v := newVerifyingReader(io.NopCloser(tt.src), tt.want, tt.size, func(n int64) { reported = append(reported, n) })
			got, err := readToEnd(v)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("read verifyingReader(%s, %d) error = %v, want %v", tt.want, tt.size, err, tt.wantErr)
			}
			// Readers must return io.EOF itself, not a wrapped copy: callers
			// such as io.Copy compare with ==.
			if tt.wantErr == io.EOF && err != io.EOF { //nolint:errorlint // see above
				t.Errorf("read verifyingReader(%s, %d) error = %#v, want io.EOF itself", tt.want, tt.size, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("read verifyingReader(%s, %d) error = %q, want it to contain %q", tt.want, tt.size, err, tt.wantText)
			}
			if tt.wantErr == io.EOF && int64(len(got)) != tt.size {
				t.Errorf("read verifyingReader(%s, %d) = %d bytes, want all %d bytes of the source", tt.want, tt.size, len(got), tt.size)
			}
			for i := 1; i < len(reported); i++ {
				if reported[i] <= reported[i-1] {
					t.Errorf("progress reports %v are not increasing", reported)
					break
				}
			}
			if len(got) > 0 && (len(reported) == 0 || reported[len(reported)-1] != int64(len(got))) {
				t.Errorf("last progress report of %v = %v, want %d", tt.name, reported, len(got))
			}
		})
	}
}

func TestVerifyingReaderClose(t *testing.T) {
	closed := false
	rc := struct {
		io.Reader
		io.Closer
	}{strings.NewReader(""), closerFunc(func() error { closed = true; return nil })}
	v := newVerifyingReader(rc, sha256Hash(nil), 0, func(int64) {})
	if err := v.Close(); err != nil || !closed {
		t.Errorf("verifyingReader.Close() = %v, closed underlying = %v, want nil, true", err, closed)
	}
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func TestCheckManifest(t *testing.T) {
	const ociManifest = `{
		"schemaVersion": 2,
		"mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "size": 5},
		"layers": []
	}`
	const ociIndex = `{
		"schemaVersion": 2,
		"mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []
	}`
	oversize := `{"schemaVersion": 2, "annotations": {"x": "` + strings.Repeat("a", maxManifestSize) + `"}}`
	atLimit := `{"x":"` + strings.Repeat("a", maxManifestSize-8) + `"}`
	if len(atLimit) != maxManifestSize {
		t.Fatalf("atLimit is %d bytes, want %d", len(atLimit), maxManifestSize)
	}
	tests := []struct {
		name    string
		raw     string
		mt      types.MediaType
		wantErr string // "" means valid
	}{
		{"good OCI manifest", ociManifest, types.OCIManifestSchema1, ""},
		{"good OCI index", ociIndex, types.OCIImageIndex, ""},
		{"manifest without mediaType field", `{"schemaVersion": 2, "config": {}, "layers": []}`, types.DockerManifestSchema2, ""},
		{"served without media type", ociManifest, "", ""},
		{"exactly at the size limit", atLimit, types.OCIManifestSchema1, ""},
		{"oversize", oversize, types.OCIManifestSchema1, "more than the 4194304 allowed"},
		{"docker schema 1", `{"schemaVersion": 1, "name": "x", "fsLayers": [{"blobSum": "sha256:a"}]}`, types.DockerManifestSchema1, "schema 1"},
		{"docker schema 1 with no layers", `{"schemaVersion": 1, "fsLayers": []}`, types.DockerManifestSchema1Signed, "schema 1"},
		{"ambiguous manifests and layers", `{"schemaVersion": 2, "manifests": [], "layers": []}`, types.OCIImageIndex, "ambiguous"},
		{"ambiguous manifests and config", `{"schemaVersion": 2, "manifests": [], "config": {}}`, types.OCIManifestSchema1, "ambiguous"},
		{"manifest served as an index", ociManifest, types.OCIImageIndex, `says mediaType "application/vnd.oci.image.manifest.v1+json" but was served as "application/vnd.oci.image.index.v1+json"`},
		{"index served as a docker manifest", ociIndex, types.DockerManifestSchema2, "but was served as"},
		{"not JSON", `<html>`, types.OCIManifestSchema1, "parse manifest"},
		{"empty", ``, types.OCIManifestSchema1, "parse manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkManifest([]byte(tt.raw), tt.mt)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("checkManifest(%.60q, %q) = %v, want nil", tt.raw, tt.mt, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("checkManifest(%.60q, %q) = %v, want an error containing %q", tt.raw, tt.mt, err, tt.wantErr)
			}
		})
	}
}

func TestChainIDs(t *testing.T) {
	// The expected values were computed independently:
	//   printf '%s %s' "$A" "$B" | sha256sum
	a := digest.Digest("sha256:" + strings.Repeat("1", 64))
	b := digest.Digest("sha256:" + strings.Repeat("2", 64))
	c := digest.Digest("sha256:" + strings.Repeat("3", 64))
	ab := digest.Digest("sha256:9932074217c35353d2e03a3f5a86549f7c67bfeb0ba53e23d69f4d4c8f7958f5")
	abc := digest.Digest("sha256:50127c0d6b338be78246434b4bce23ecf75e505158ea0bbd15effeb162fbf3ec")
	tests := []struct {
		name    string
		diffIDs []digest.Digest
		want    []digest.Digest
	}{
		{"no layers", nil, []digest.Digest{}},
		{"one layer is its own chain ID", []digest.Digest{a}, []digest.Digest{a}},
		{"two layers", []digest.Digest{a, b}, []digest.Digest{a, ab}},
		{"three layers", []digest.Digest{a, b, c}, []digest.Digest{a, ab, abc}},
		{"order matters", []digest.Digest{b, a}, []digest.Digest{b, digest.FromString(string(b) + " " + string(a))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := chainIDs(tt.diffIDs)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("chainIDs(%v) = %v, want %v", tt.diffIDs, got, tt.want)
			}
		})
	}
	if chainIDs([]digest.Digest{b, a})[1] == ab {
		t.Errorf("chainIDs(b, a)[1] = chainIDs(a, b)[1], want them to differ")
	}
}

func TestParsePlatform(t *testing.T) {
	hostVariant := ""
	if runtime.GOARCH == "arm" {
		hostVariant = "v7"
	}
	tests := []struct {
		in   string
		want *v1.Platform
	}{
		{"", &v1.Platform{OS: "linux", Architecture: runtime.GOARCH, Variant: hostVariant}},
		{"linux/amd64", &v1.Platform{OS: "linux", Architecture: "amd64"}},
		{"linux/arm64", &v1.Platform{OS: "linux", Architecture: "arm64"}},
		{"linux/arm/v7", &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{"windows/amd64", &v1.Platform{OS: "windows", Architecture: "amd64"}},
	}
	for _, tt := range tests {
		t.Run("valid "+tt.in, func(t *testing.T) {
			got, err := parsePlatform(tt.in)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parsePlatform(%q) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
			}
		})
	}
	for _, in := range []string{"linux", "amd64", "linux/", "/amd64", "/", "linux/arm/v7/extra", "linux//v7"} {
		t.Run("invalid "+in, func(t *testing.T) {
			got, err := parsePlatform(in)
			if err == nil || !strings.Contains(err.Error(), "OS/ARCH[/VARIANT]") {
				t.Errorf("parsePlatform(%q) = %+v, %v, want an error naming OS/ARCH[/VARIANT]", in, got, err)
			}
		})
	}
}

func TestPlatformString(t *testing.T) {
	tests := []struct {
		cfg  v1.ConfigFile
		want string
	}{
		{v1.ConfigFile{OS: "linux", Architecture: "amd64"}, "linux/amd64"},
		{v1.ConfigFile{OS: "linux", Architecture: "arm", Variant: "v6"}, "linux/arm/v6"},
	}
	for _, tt := range tests {
		if got := platformString(&tt.cfg); got != tt.want {
			t.Errorf("platformString(%+v) = %q, want %q", tt.cfg, got, tt.want)
		}
	}
}

func TestIsLayerMediaType(t *testing.T) {
	tests := []struct {
		mt   types.MediaType
		want bool
	}{
		{types.DockerLayer, true},
		{types.DockerUncompressedLayer, true},
		{types.OCILayer, true},
		{types.OCIUncompressedLayer, true},
		{types.OCILayerZStd, true},
		{types.DockerForeignLayer, false},
		{types.OCIRestrictedLayer, false},
		{types.OCIUncompressedRestrictedLayer, false},
		{types.OCIConfigJSON, false},
		{types.DockerConfigJSON, false},
		{types.OCIManifestSchema1, false},
		{types.OCIImageIndex, false},
		{"application/octet-stream", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.mt), func(t *testing.T) {
			if got := isLayerMediaType(tt.mt); got != tt.want {
				t.Errorf("isLayerMediaType(%q) = %v, want %v", tt.mt, got, tt.want)
			}
		})
	}
}

func TestRegistryError(t *testing.T) {
	cause := errors.New("unauthorized")
	err := error(&RegistryError{Registry: "quay.io", Ref: "quay.io/x/y:1", Err: cause})
	want := "pull quay.io/x/y:1 from registry quay.io: unauthorized"
	if err.Error() != want {
		t.Errorf("RegistryError.Error() = %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(%v, %v) = false, want true", err, cause)
	}
}

func TestRegistryErrorCertificateHint(t *testing.T) {
	cause := fmt.Errorf("Get %q: %w", "https://r.example/v2/", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}})
	err := &RegistryError{Registry: "r.example", Ref: "r.example/a:x", Err: cause}
	if !strings.Contains(err.Error(), "--tls-verify=false") {
		t.Errorf("%q: want the hint about untrusted certificates", err.Error())
	}
	plain := &RegistryError{Registry: "r.example", Ref: "r.example/a:x", Err: errors.New("connection refused")}
	if strings.Contains(plain.Error(), "--tls-verify") {
		t.Errorf("%q: a hint about certificates without a certificate error", plain.Error())
	}
}

func TestRegistryErrorReasons(t *testing.T) {
	tests := []struct {
		code transport.ErrorCode
		want string
	}{
		{transport.ManifestUnknownErrorCode, "manifest unknown: the registry has no such tag or digest"},
		{transport.NameUnknownErrorCode, "name unknown: the registry has no such repository"},
		{transport.UnauthorizedErrorCode, "unauthorized: the registry refused access"},
		{transport.TooManyRequestsErrorCode, "too many requests"},
		{"BLOB_UPLOAD_INVALID", "blob upload invalid (BLOB_UPLOAD_INVALID)"},
	}
	for _, tt := range tests {
		te := &transport.Error{StatusCode: 404, Errors: []transport.Diagnostic{{Code: tt.code, Detail: map[string]any{"Tag": "x"}}}}
		err := error(&RegistryError{Registry: "r.example", Ref: "r.example/a:x", Err: fmt.Errorf("GET: %w", te)})
		if got := err.Error(); !strings.HasPrefix(got, "pull r.example/a:x from registry r.example: "+tt.want) || strings.Contains(got, "map[") {
			t.Errorf("%s: %q, want it to start with %q and no raw detail", tt.code, got, tt.want)
		}
		if !errors.As(err, &te) {
			t.Errorf("%s: the transport error is no longer reachable with errors.As", tt.code)
		}
	}
}

func TestVerifyingReaderVerdictIsSticky(t *testing.T) {
	content := []byte("layer data")
	v := newVerifyingReader(io.NopCloser(bytes.NewReader([]byte("LAYER DATA"))), sha256Hash(content), int64(len(content)), func(int64) {})
	if _, err := io.ReadAll(v); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("ReadAll = %v, want ErrDigestMismatch", err)
	}
	// Whoever reads next (a drain after a decompressor gave up) must get
	// the same verdict, not a clean EOF.
	for range 2 {
		if n, err := v.Read(make([]byte, 8)); n != 0 || !errors.Is(err, ErrDigestMismatch) {
			t.Errorf("Read after the mismatch = %d, %v, want 0, ErrDigestMismatch", n, err)
		}
	}
}
