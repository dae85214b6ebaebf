package oci

import (
	"encoding/json"
	"fmt"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// MinKernel is the kernel release assumed for seccomp "minKernel"
// conditions when Options.KernelRelease is empty: 5.11, the first release
// with unprivileged overlayfs in a user namespace, which rootless storage
// relies on. Only conditions up to it are then treated as met.
const MinKernel = "5.11"

// MaxSeccompProfileSize caps a custom seccomp profile.
const MaxSeccompProfileSize = 4 << 20

// seccompProfile returns the filter for mode, resolved for the capabilities
// already in spec (rules gated on a capability apply when the bounding set
// holds it, as docker and podman do).
//
// "minKernel" conditions are decided here against Options.KernelRelease
// rather than by moby/profiles, which would call uname(2): this package
// makes no system calls, and the result stays reproducible.
func seccompProfile(o Options, spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	var profile *seccomp.Seccomp
	switch o.Seccomp {
	case SeccompUnconfined:
		return nil, nil
	case SeccompDefault:
		profile = seccomp.DefaultProfile()
	case SeccompCustom:
		if len(o.SeccompProfile) > MaxSeccompProfileSize {
			return nil, fmt.Errorf("seccomp profile: %w (%d bytes, limit %d)", ErrFileTooLarge, len(o.SeccompProfile), MaxSeccompProfileSize)
		}
		profile = new(seccomp.Seccomp)
		if err := json.Unmarshal(o.SeccompProfile, profile); err != nil {
			return nil, fmt.Errorf("%w: decoding JSON: %w", ErrInvalidSeccompProfile, err)
		}
	default:
		return nil, fmt.Errorf("%w: unknown seccomp mode %d", ErrInvalidOptions, o.Seccomp)
	}
	release := o.KernelRelease
	if release == "" {
		release = MinKernel
	}
	var kv seccomp.KernelVersion
	if _, err := fmt.Sscanf(release, "%d.%d", &kv.Kernel, &kv.Major); err != nil {
		return nil, fmt.Errorf("%w: kernel release %q: want MAJOR.MINOR[.PATCH]", ErrInvalidOptions, short(release))
	}
	resolveMinKernel(profile, kv)

	// moby/profiles exports its rule expansion only through LoadProfile,
	// which takes JSON.
	body, err := json.Marshal(profile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSeccompProfile, err)
	}
	out, err := seccomp.LoadProfile(string(body), spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSeccompProfile, err)
	}
	// Like docker, a profile with neither a default action nor rules (such
	// as "{}") means no filter.
	return out, nil
}

// resolveMinKernel decides every minKernel condition of p for kernel kv and
// removes it: a rule whose "includes" needs a newer kernel, or whose
// "excludes" matches this kernel, is dropped; otherwise the condition is
// met (or cannot exclude) and only the rule's other conditions remain.
func resolveMinKernel(p *seccomp.Seccomp, kv seccomp.KernelVersion) {
	atLeast := func(min *seccomp.KernelVersion) bool {
		return kv.Kernel > min.Kernel || (kv.Kernel == min.Kernel && kv.Major >= min.Major)
	}
	kept := p.Syscalls[:0]
	for _, call := range p.Syscalls {
		if call == nil {
			continue
		}
		if in := call.Includes; in != nil && in.MinKernel != nil {
			if !atLeast(in.MinKernel) {
				continue
			}
			in.MinKernel = nil
		}
		if ex := call.Excludes; ex != nil && ex.MinKernel != nil {
			if atLeast(ex.MinKernel) {
				continue
			}
			ex.MinKernel = nil
		}
		kept = append(kept, call)
	}
	p.Syscalls = kept
}
