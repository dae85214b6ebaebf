package storage

import (
	"encoding/json"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ApplyChanges applies Dockerfile-style instructions, as given to
// `import --change`, to an image config. Each change is "INSTRUCTION ARGS"
// or "INSTRUCTION=ARGS"; supported are CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
// STOPSIGNAL, USER, VOLUME and WORKDIR.
func ApplyChanges(cfg *ocispec.ImageConfig, changes []string) error {
	for _, c := range changes {
		if err := applyChange(cfg, c); err != nil {
			return fmt.Errorf("invalid change %q: %w", c, err)
		}
	}
	return nil
}

func applyChange(cfg *ocispec.ImageConfig, change string) error {
	change = strings.TrimSpace(change)
	i := strings.IndexAny(change, " \t=")
	if i < 0 {
		return fmt.Errorf("want INSTRUCTION ARGUMENTS")
	}
	instr, args := strings.ToUpper(change[:i]), strings.TrimSpace(change[i+1:])
	if args == "" {
		return fmt.Errorf("%s needs an argument", instr)
	}
	switch instr {
	case "CMD":
		cfg.Cmd = commandForm(args)
	case "ENTRYPOINT":
		cfg.Entrypoint = commandForm(args)
	case "ENV":
		pairs, err := keyValues(args)
		if err != nil {
			return err
		}
		for _, kv := range pairs {
			cfg.Env = setEnv(cfg.Env, kv)
		}
	case "LABEL":
		pairs, err := keyValues(args)
		if err != nil {
			return err
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range pairs {
			k, v, _ := strings.Cut(kv, "=")
			cfg.Labels[k] = v
		}
	case "EXPOSE":
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(args) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.ExposedPorts[p] = struct{}{}
		}
	case "VOLUME":
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		var vols []string
		if err := json.Unmarshal([]byte(args), &vols); err != nil {
			vols = strings.Fields(args)
		}
		for _, v := range vols {
			if !strings.HasPrefix(v, "/") {
				return fmt.Errorf("volume %q is not an absolute path", v)
			}
			cfg.Volumes[v] = struct{}{}
		}
	case "USER":
		cfg.User = args
	case "WORKDIR":
		if !strings.HasPrefix(args, "/") {
			return fmt.Errorf("WORKDIR %q is not an absolute path", args)
		}
		cfg.WorkingDir = args
	case "STOPSIGNAL":
		cfg.StopSignal = args
	default:
		return fmt.Errorf("unsupported instruction %s (want CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR)", instr)
	}
	return nil
}

// commandForm returns the exec form of a JSON array, or wraps a shell
// form in /bin/sh -c, as a Dockerfile does.
func commandForm(args string) []string {
	var argv []string
	if strings.HasPrefix(args, "[") && json.Unmarshal([]byte(args), &argv) == nil {
		return argv
	}
	return []string{"/bin/sh", "-c", args}
}

// keyValues parses "K=V K2=\"v 2\"" or the legacy "K V" form.
func keyValues(args string) ([]string, error) {
	if k, v, found := strings.Cut(args, " "); found && !strings.Contains(k, "=") {
		return []string{k + "=" + strings.TrimSpace(v)}, nil
	}
	var out []string
	var cur strings.Builder
	quote := rune(0)
	for _, r := range args + " " {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case quote == 0 && (r == ' ' || r == '\t'):
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote")
	}
	for _, kv := range out {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("want KEY=VALUE, got %q", kv)
		}
	}
	return out, nil
}

func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}
