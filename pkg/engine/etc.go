package engine

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ctr-project/ctr/pkg/netns"
	"go.podman.io/storage/pkg/ioutils"
)

// writeEtcFiles writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf into its run directory and returns them for
// oci.Options.EtcFiles. A container that shares another's network (the
// run directory shareFrom) gets copies of that one's hosts and resolv.conf:
// the same network, the same names and resolvers.
func writeEtcFiles(runDir, hostname, name string, n NetworkOptions, shareFrom string) (map[string]string, error) {
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	files := map[string][]byte{
		"/etc/hostname":    []byte(hostname + "\n"),
		"/etc/resolv.conf": netns.ResolvConf(hostResolv, n.Config, n.DNS),
	}
	if shareFrom != "" {
		if b, err := os.ReadFile(filepath.Join(shareFrom, "resolv.conf")); err == nil {
			files["/etc/resolv.conf"] = b
		}
		if b, err := os.ReadFile(filepath.Join(shareFrom, "hosts")); err == nil && !n.NoHosts {
			files["/etc/hosts"], n.NoHosts = b, true // copied: not made below
		}
	}
	if !n.NoHosts {
		hostHosts, _ := os.ReadFile("/etc/hosts")
		files["/etc/hosts"] = netns.Hosts(n.Config, netns.HostsOptions{Hostname: hostname, Name: name, ExtraHosts: n.AddHosts, HostContent: hostHosts})
	}
	out := map[string]string{}
	for dst, content := range files {
		p := filepath.Join(runDir, filepath.Base(dst))
		// The run directory does not survive a reboot: no fsync needed.
		if err := ioutils.AtomicWriteFileWithOpts(p, content, 0o644, &ioutils.AtomicFileWriterOptions{NoSync: true}); err != nil {
			return nil, fmt.Errorf("write %s: %w", dst, err)
		}
		out[dst] = p
	}
	return out, nil
}
