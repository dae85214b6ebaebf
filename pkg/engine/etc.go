package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/ctr-project/ctr/pkg/oci"
	"go.podman.io/storage/pkg/ioutils"
)

// writeEtcFiles writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf into its run directory and returns them for
// oci.Options.EtcFiles.
func writeEtcFiles(runDir, hostname, name, network string) (map[string]string, error) {
	hosts := "127.0.0.1\tlocalhost localhost.localdomain\n::1\tlocalhost localhost.localdomain ip6-localhost ip6-loopback\n"
	names := hostname
	if name != hostname {
		names += " " + name
	}
	if network == oci.NetworkHost {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
			if !strings.HasSuffix(hosts, "\n") {
				hosts += "\n"
			}
		}
	}
	hosts += "127.0.1.1\t" + names + "\n"
	files := map[string]string{
		"/etc/hostname":    hostname + "\n",
		"/etc/hosts":       hosts,
		"/etc/resolv.conf": resolvConf(network),
	}
	out := map[string]string{}
	for dst, content := range files {
		p := filepath.Join(runDir, filepath.Base(dst))
		// The run directory does not survive a reboot: no fsync needed.
		if err := ioutils.AtomicWriteFileWithOpts(p, []byte(content), 0o644, &ioutils.AtomicFileWriterOptions{NoSync: true}); err != nil {
			return nil, fmt.Errorf("write %s: %w", dst, err)
		}
		out[dst] = p
	}
	return out, nil
}

// resolvConf derives the container's resolv.conf from the host's. In its
// own network namespace a loopback nameserver (systemd-resolved's
// 127.0.0.53) is unreachable, so those lines are dropped.
func resolvConf(network string) string {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return ""
	}
	if network == oci.NetworkHost {
		return string(b)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil && ip.IsLoopback() {
				continue
			}
		}
		out.WriteString(line + "\n")
	}
	return out.String()
}
