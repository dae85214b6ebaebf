package storage

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// DefaultAuthFiles lists the credential files ctr reads, first match wins:
// $REGISTRY_AUTH_FILE, podman's $XDG_RUNTIME_DIR/containers/auth.json and
// ~/.config/containers/auth.json, then docker's ~/.docker/config.json
// ($DOCKER_CONFIG/config.json).
func DefaultAuthFiles() []string {
	var files []string
	if f := os.Getenv("REGISTRY_AUTH_FILE"); f != "" {
		files = append(files, f)
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		files = append(files, filepath.Join(d, "containers", "auth.json"))
	}
	home := os.Getenv("HOME")
	config := os.Getenv("XDG_CONFIG_HOME")
	if config == "" && home != "" {
		config = filepath.Join(home, ".config")
	}
	if config != "" {
		files = append(files, filepath.Join(config, "containers", "auth.json"))
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		files = append(files, filepath.Join(d, "config.json"))
	} else if home != "" {
		files = append(files, filepath.Join(home, ".docker", "config.json"))
	}
	return files
}

// fileKeychain resolves credentials from podman/docker auth files. Both
// formats are {"auths": {"REGISTRY": {"auth": base64(user:password)}}}.
// Credential helpers (credsStore, credHelpers) are not run.
type fileKeychain struct {
	files []string
}

var _ authn.Keychain = fileKeychain{}

type authFile struct {
	Auths map[string]authEntry `json:"auths"`
}

type authEntry struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
}

// Resolve returns the first credentials for the resource's registry.
func (k fileKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	for _, f := range k.files {
		entry, ok, err := lookupAuth(f, res.RegistryStr())
		if err != nil {
			return nil, err
		}
		if ok {
			return entry, nil
		}
	}
	return authn.Anonymous, nil
}

func lookupAuth(path, registry string) (authn.Authenticator, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read credentials: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	// Someone who can write this file can redirect our credentials.
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, false, fmt.Errorf("credentials file %s is writable by group or others (mode %04o): chmod 600 %s",
			path, fi.Mode().Perm(), path)
	}
	var af authFile
	if err := json.NewDecoder(f).Decode(&af); err != nil {
		return nil, false, fmt.Errorf("parse credentials file %s: %w", path, err)
	}
	for _, key := range authKeys(registry) {
		e, ok := af.Auths[key]
		if !ok {
			continue
		}
		cfg := authn.AuthConfig{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken}
		if e.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, false, fmt.Errorf("credentials file %s: entry %s: invalid base64: %w", path, key, err)
			}
			user, pass, found := strings.Cut(string(raw), ":")
			if !found {
				return nil, false, fmt.Errorf("credentials file %s: entry %s: want user:password", path, key)
			}
			cfg.Username, cfg.Password = user, pass
		}
		return authn.FromConfig(cfg), true, nil
	}
	return nil, false, nil
}

// authKeys lists the spellings auth files use for a registry: podman writes
// "host", docker "https://host/v1/" for Docker Hub, and older files
// "https://host".
func authKeys(registry string) []string {
	keys := []string{registry, "https://" + registry, "http://" + registry}
	if registry == "index.docker.io" || registry == "docker.io" {
		keys = append(keys, "docker.io", "index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io")
	}
	return keys
}
