package storage

import (
	"encoding/base64"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// writeAuthFile writes content with the given mode, whatever the umask.
func writeAuthFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func resolve(t *testing.T, k authn.Keychain, reg string) (*authn.AuthConfig, error) {
	t.Helper()
	r, err := name.NewRegistry(reg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := k.Resolve(r)
	if err != nil {
		return nil, err
	}
	return a.Authorization()
}

func TestFileKeychain(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		registry string
		want     authn.AuthConfig
	}{
		{
			name:     "podman key with auth",
			file:     `{"auths": {"registry.example.com": {"auth": "` + b64("alice:s3cret") + `"}}}`,
			registry: "registry.example.com",
			want:     authn.AuthConfig{Username: "alice", Password: "s3cret"},
		},
		{
			name:     "key with a port",
			file:     `{"auths": {"localhost:5000": {"auth": "` + b64("alice:s3cret") + `"}}}`,
			registry: "localhost:5000",
			want:     authn.AuthConfig{Username: "alice", Password: "s3cret"},
		},
		{
			name:     "https URL key",
			file:     `{"auths": {"https://registry.example.com": {"auth": "` + b64("alice:s3cret") + `"}}}`,
			registry: "registry.example.com",
			want:     authn.AuthConfig{Username: "alice", Password: "s3cret"},
		},
		{
			name:     "http URL key",
			file:     `{"auths": {"http://registry.example.com": {"auth": "` + b64("alice:s3cret") + `"}}}`,
			registry: "registry.example.com",
			want:     authn.AuthConfig{Username: "alice", Password: "s3cret"},
		},
		{
			name:     "docker's key for Docker Hub",
			file:     `{"auths": {"https://index.docker.io/v1/": {"auth": "` + b64("bob:hunter2") + `"}}}`,
			registry: "docker.io",
			want:     authn.AuthConfig{Username: "bob", Password: "hunter2"},
		},
		{
			name:     "podman's key for Docker Hub",
			file:     `{"auths": {"docker.io": {"auth": "` + b64("bob:hunter2") + `"}}}`,
			registry: "index.docker.io",
			want:     authn.AuthConfig{Username: "bob", Password: "hunter2"},
		},
		{
			name:     "registry-1 key for Docker Hub",
			file:     `{"auths": {"registry-1.docker.io": {"auth": "` + b64("bob:hunter2") + `"}}}`,
			registry: "docker.io",
			want:     authn.AuthConfig{Username: "bob", Password: "hunter2"},
		},
		{
			name:     "exact key wins over the URL spelling",
			file:     `{"auths": {"https://registry.example.com": {"auth": "` + b64("url:1") + `"}, "registry.example.com": {"auth": "` + b64("exact:2") + `"}}}`,
			registry: "registry.example.com",
			want:     authn.AuthConfig{Username: "exact", Password: "2"},
		},
		{
			name:     "password containing a colon",
			file:     `{"auths": {"registry.example.com": {"auth": "` + b64("alice:pa:ss") + `"}}}`,
			registry: "registry.example.com",
			want:     authn.AuthConfig{Username: "alice", Password: "pa:ss"},
		},
		{
			name:     "username and password fields",
			file:     `{"auths": {"registry.example.com": {"username": "carol", "password": "pw"}}}`,
			registry: "registry.example.com",
			want:     authn.AuthConfig{Username: "carol", Password: "pw"},
		},
		{
			name:     "auth overrides username and password fields",
			file:     `{"auths": {"registry.example.com": {"auth": "` + b64("alice:s3cret") + `", "username": "carol", "password": "pw"}}}`,
			registry: "registry.example.com",
			want:     authn.AuthConfig{Username: "alice", Password: "s3cret"},
		},
		{
			name:     "identity token",
			file:     `{"auths": {"registry.example.com": {"identitytoken": "tok"}}}`,
			registry: "registry.example.com",
			want:     authn.AuthConfig{IdentityToken: "tok"},
		},
		{
			name:     "other registries are anonymous",
			file:     `{"auths": {"registry.example.com": {"auth": "` + b64("alice:s3cret") + `"}}}`,
			registry: "quay.io",
			want:     authn.AuthConfig{},
		},
		{
			name:     "Docker Hub keys do not leak to other registries",
			file:     `{"auths": {"https://index.docker.io/v1/": {"auth": "` + b64("bob:hunter2") + `"}}}`,
			registry: "quay.io",
			want:     authn.AuthConfig{},
		},
		{
			name:     "a prefix of the registry name does not match",
			file:     `{"auths": {"registry.example": {"auth": "` + b64("alice:s3cret") + `"}}}`,
			registry: "registry.example.com",
			want:     authn.AuthConfig{},
		},
		{
			name:     "no auths at all",
			file:     `{}`,
			registry: "registry.example.com",
			want:     authn.AuthConfig{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeAuthFile(t, t.TempDir(), "auth.json", tt.file, 0o600)
			got, err := resolve(t, fileKeychain{files: []string{path}}, tt.registry)
			if err != nil {
				t.Fatalf("Resolve(%s) with %s error = %v", tt.registry, tt.file, err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Resolve(%s) with %s = %+v, want %+v", tt.registry, tt.file, *got, tt.want)
			}
		})
	}
}

func TestFileKeychainErrors(t *testing.T) {
	good := `{"auths": {"registry.example.com": {"auth": "` + b64("alice:s3cret") + `"}}}`
	tests := []struct {
		name    string
		file    string
		mode    os.FileMode
		wantErr string
	}{
		{"invalid base64", `{"auths": {"registry.example.com": {"auth": "not base64!"}}}`, 0o600, "invalid base64"},
		{"auth without a colon", `{"auths": {"registry.example.com": {"auth": "` + b64("alice") + `"}}}`, 0o600, "want user:password"},
		{"malformed JSON", `{"auths": `, 0o600, "parse credentials file"},
		{"group-writable file", good, 0o620, "writable by group or others (mode 0620): chmod 600"},
		{"world-writable file", good, 0o606, "writable by group or others (mode 0606)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeAuthFile(t, t.TempDir(), "auth.json", tt.file, tt.mode)
			got, err := resolve(t, fileKeychain{files: []string{path}}, "registry.example.com")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Resolve(registry.example.com) with %s = %+v, %v, want an error containing %q", tt.file, got, err, tt.wantErr)
			}
			if err != nil && tt.mode&0o022 == 0 && !strings.Contains(err.Error(), path) {
				t.Errorf("Resolve(registry.example.com) error = %q, want it to name %s", err, path)
			}
		})
	}

	t.Run("a broken entry for another registry is not an error", func(t *testing.T) {
		file := `{"auths": {"other.example.com": {"auth": "not base64!"}, "registry.example.com": {"auth": "` + b64("alice:s3cret") + `"}}}`
		path := writeAuthFile(t, t.TempDir(), "auth.json", file, 0o600)
		got, err := resolve(t, fileKeychain{files: []string{path}}, "registry.example.com")
		if err != nil || got.Username != "alice" {
			t.Errorf("Resolve(registry.example.com) with %s = %+v, %v, want alice, nil", file, got, err)
		}
	})

	t.Run("group-readable file is fine", func(t *testing.T) {
		path := writeAuthFile(t, t.TempDir(), "auth.json", good, 0o644)
		got, err := resolve(t, fileKeychain{files: []string{path}}, "registry.example.com")
		if err != nil || got.Username != "alice" {
			t.Errorf("Resolve(registry.example.com) with mode 0644 = %+v, %v, want alice, nil", got, err)
		}
	})
}

func TestFileKeychainFileOrder(t *testing.T) {
	dir := t.TempDir()
	first := writeAuthFile(t, dir, "first.json", `{"auths": {"registry.example.com": {"auth": "`+b64("first:1")+`"}}}`, 0o600)
	second := writeAuthFile(t, dir, "second.json", `{"auths": {"registry.example.com": {"auth": "`+b64("second:2")+`"}, "quay.io": {"auth": "`+b64("quay:3")+`"}}}`, 0o600)
	broken := writeAuthFile(t, dir, "broken.json", `{`, 0o600)
	missing := filepath.Join(dir, "missing.json")
	tests := []struct {
		name     string
		files    []string
		registry string
		wantUser string
		wantErr  bool
	}{
		{"first file wins", []string{first, second}, "registry.example.com", "first", false},
		{"order is the caller's", []string{second, first}, "registry.example.com", "second", false},
		{"a missing file is skipped", []string{missing, second}, "registry.example.com", "second", false},
		{"a file without the registry is skipped", []string{first, second}, "quay.io", "quay", false},
		{"only missing files is anonymous", []string{missing}, "registry.example.com", "", false},
		{"no files is anonymous", nil, "registry.example.com", "", false},
		{"a match before a broken file stops the search", []string{first, broken}, "registry.example.com", "first", false},
		{"a broken file before a match is an error", []string{broken, first}, "registry.example.com", "", true},
		{"a directory is an error", []string{dir}, "registry.example.com", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve(t, fileKeychain{files: tt.files}, tt.registry)
			if tt.wantErr {
				if err == nil {
					t.Errorf("Resolve(%s) with files %q = %+v, nil, want an error", tt.registry, tt.files, got)
				}
				return
			}
			if err != nil || got.Username != tt.wantUser {
				t.Errorf("Resolve(%s) with files %q = %+v, %v, want user %q, nil", tt.registry, tt.files, got, err, tt.wantUser)
			}
		})
	}

	t.Run("anonymous is authn.Anonymous", func(t *testing.T) {
		r, _ := name.NewRegistry("registry.example.com")
		a, err := fileKeychain{files: []string{missing}}.Resolve(r)
		if err != nil || a != authn.Anonymous {
			t.Errorf("Resolve(%s) with a missing file = %v, %v, want authn.Anonymous, nil", r, a, err)
		}
	})
}

func TestDefaultAuthFiles(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{
			name: "everything set",
			env: map[string]string{
				"REGISTRY_AUTH_FILE": "/auth.json", "XDG_RUNTIME_DIR": "/run/user/1000",
				"XDG_CONFIG_HOME": "/cfg", "HOME": "/home/alice", "DOCKER_CONFIG": "/docker",
			},
			want: []string{"/auth.json", "/run/user/1000/containers/auth.json", "/cfg/containers/auth.json", "/docker/config.json"},
		},
		{
			name: "only HOME",
			env:  map[string]string{"HOME": "/home/alice"},
			want: []string{"/home/alice/.config/containers/auth.json", "/home/alice/.docker/config.json"},
		},
		{
			name: "nothing set",
			env:  map[string]string{},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "HOME", "DOCKER_CONFIG"} {
				t.Setenv(k, tt.env[k])
			}
			if got := DefaultAuthFiles(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DefaultAuthFiles() with %v = %q, want %q", tt.env, got, tt.want)
			}
		})
	}
}

func TestAuthKeys(t *testing.T) {
	got := authKeys("quay.io")
	want := []string{"quay.io", "https://quay.io", "http://quay.io"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("authKeys(%q) = %q, want %q", "quay.io", got, want)
	}
	for _, hub := range []string{"docker.io", "index.docker.io"} {
		keys := authKeys(hub)
		for _, k := range []string{"docker.io", "index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"} {
			found := false
			for _, got := range keys {
				found = found || got == k
			}
			if !found {
				t.Errorf("authKeys(%q) = %q, want it to include %q", hub, keys, k)
			}
		}
	}
}

// TestFileKeychainAgainstRegistry checks that credentials from a file reach
// a registry that asks for Basic auth, over plain HTTP on 127.0.0.1 (which
// the transport allows for loopback).
func TestFileKeychainAgainstRegistry(t *testing.T) {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "alice" || pass != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	ref, err := name.ParseReference(host + "/test/image:v1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	basic := remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})
	if err := remote.Write(ref, img, basic, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push test image: %v", err)
	}

	dir := t.TempDir()
	goodFile := writeAuthFile(t, dir, "good.json", `{"auths": {"`+host+`": {"auth": "`+b64("alice:s3cret")+`"}}}`, 0o600)
	wrongFile := writeAuthFile(t, dir, "wrong.json", `{"auths": {"`+host+`": {"auth": "`+b64("alice:wrong")+`"}}}`, 0o600)
	for _, tt := range []struct {
		name   string
		files  []string
		wantOK bool
	}{
		{"right credentials", []string{goodFile}, true},
		{"wrong credentials", []string{wrongFile}, false},
		{"no credentials", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			desc, err := remote.Get(ref,
				remote.WithContext(t.Context()),
				remote.WithTransport(newTransport(false)),
				remote.WithAuthFromKeychain(fileKeychain{files: tt.files}))
			if (err == nil) != tt.wantOK {
				t.Fatalf("remote.Get(%s) with files %q error = %v, want success %v", ref, tt.files, err, tt.wantOK)
			}
			if err != nil {
				return
			}
			if err := checkManifest(desc.Manifest, desc.MediaType); err != nil {
				t.Errorf("checkManifest(manifest of %s) = %v, want nil", ref, err)
			}
			want, _ := img.Digest()
			if desc.Digest != want {
				t.Errorf("remote.Get(%s).Digest = %s, want %s", ref, desc.Digest, want)
			}
		})
	}
}
