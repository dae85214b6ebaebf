package netns

import (
	"fmt"
	"strconv"
	"strings"
)

// PastaArgs returns the pasta(1) command line that attaches a network to
// the namespaces of pid, publishing ports, with its PID written to pidFile.
// Debian 12's pasta must be started from the host side (outside the
// container's user namespace) and does not exit with the container: the
// caller runs it through the host-side ctr and stops it itself.
func PastaArgs(pid int, c Config, ports []PortMapping, pidFile string) []string {
	args := []string{"--config-net", "--quiet", "--pid", pidFile,
		// Without host-loopback access the gateway is not the host.
		"--no-map-gw",
		"--dns-forward", pastaDNS,
		"-T", "none", "-U", "none"}
	var tcp, udp []string
	for _, p := range ports {
		spec := fmt.Sprintf("%d:%d", p.HostPort, p.ContainerPort)
		if p.HostIP != "" {
			// ADDR/PORTS, with an IPv6 address bare: pasta parses
			// ADDR with inet_pton and rejects "[::1]/8080:80" as an
			// invalid port specifier (pasta(1) -t).
			spec = p.HostIP + "/" + spec
		}
		if p.Protocol == "udp" {
			udp = append(udp, spec)
		} else {
			tcp = append(tcp, spec)
		}
	}
	if len(tcp) == 0 {
		args = append(args, "-t", "none")
	}
	for _, t := range tcp {
		args = append(args, "-t", t)
	}
	if len(udp) == 0 {
		args = append(args, "-u", "none")
	}
	for _, u := range udp {
		args = append(args, "-u", u)
	}
	args = append(args, c.PastaArgs...)
	proc := "/proc/" + strconv.Itoa(pid) + "/ns/"
	return append(args, "--userns", proc+"user", "--netns", proc+"net")
}

// ReadPidFile parses the PID pasta wrote.
func ReadPidFile(b []byte) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid pid file content %q", b)
	}
	return n, nil
}
