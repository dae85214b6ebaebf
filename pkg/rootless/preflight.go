package rootless

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Report is the host's readiness for rootless containers. Each Problem
// carries its fix.
type Report struct {
	Mode      Mode                   `json:"mode"`
	User      string                 `json:"user"`
	UID       int                    `json:"uid"`
	GID       int                    `json:"gid"`
	Kernel    string                 `json:"kernel"`
	UIDMap    []specs.LinuxIDMapping `json:"uidMap"`
	GIDMap    []specs.LinuxIDMapping `json:"gidMap"`
	SubUIDs   []IDRange              `json:"subUIDs"`
	SubGIDs   []IDRange              `json:"subGIDs"`
	NewUIDMap Tool                   `json:"newuidmap"`
	NewGIDMap Tool                   `json:"newgidmap"`
	Sysctls   []Sysctl               `json:"sysctls"`
	Tun       Device                 `json:"tun"`
	Fuse      Device                 `json:"fuse"`
	Slirp     Tool                   `json:"slirp4netns"`
	Pasta     Tool                   `json:"pasta"`
	FuseOvl   Tool                   `json:"fuseOverlayfs"`
	Cgroup    Cgroup                 `json:"cgroup"`
	Problems  []Problem              `json:"problems"`
}

// Tool is a helper program ctr may run.
type Tool struct {
	Path   string `json:"path"`
	Status string `json:"status"` // "setuid", "file capabilities", a version, or what is wrong
	OK     bool   `json:"ok"`
}

// Device is a device node ctr may open.
type Device struct {
	Path   string `json:"path"`
	OK     bool   `json:"ok"`
	Status string `json:"status"`
}

// Sysctl is a kernel setting that affects user namespaces.
type Sysctl struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	OK    bool   `json:"ok"`
}

// Cgroup describes the cgroup setup seen by the user.
type Cgroup struct {
	Version     string   `json:"version"` // "v2", "v1", "hybrid"
	Path        string   `json:"path"`
	Delegated   bool     `json:"delegated"`
	Controllers []string `json:"controllers"`
}

// Problem is something that limits ctr on this host, with its fix.
type Problem struct {
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
}

// Preflight inspects the host. It works both on the host and inside ctr's
// user namespace, where it reads the real IDs from /proc/self/uid_map.
func Preflight(userName string) Report {
	r := Report{UID: os.Getuid(), GID: os.Getgid(), User: userName}
	if mode, ok := Current(); ok {
		r.Mode = mode
	}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		r.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	if inNamespace() {
		r.UIDMap, _ = readIDMap("/proc/self/uid_map")
		r.GIDMap, _ = readIDMap("/proc/self/gid_map")
		r.UID, r.GID = hostID(r.UIDMap, r.UID), hostID(r.GIDMap, r.GID)
	}
	if r.User == "" {
		r.User = userNameFromPasswd(r.UID)
	}
	sub, _ := ReadSubIDs("/etc/subuid", r.User, r.UID)
	r.SubUIDs = sub.Ranges
	sub, _ = ReadSubIDs("/etc/subgid", r.User, r.UID)
	r.SubGIDs = sub.Ranges
	if r.UID != 0 {
		if len(r.SubUIDs) == 0 || len(r.SubGIDs) == 0 {
			r.problem("no subordinate UID/GID ranges for "+r.User+": containers get a single ID and cannot switch users",
				fixSubIDs(r.User))
		}
	}

	r.NewUIDMap = idMapTool("newuidmap")
	r.NewGIDMap = idMapTool("newgidmap")
	for _, t := range []Tool{r.NewUIDMap, r.NewGIDMap} {
		if !t.OK && r.UID != 0 {
			r.problem("newuidmap/newgidmap: "+t.Status, "sudo apt-get install uidmap")
		}
	}

	for _, s := range userNSSwitches {
		b, err := os.ReadFile(filepath.Join("/proc/sys", s.file))
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		sc := Sysctl{Name: s.setting, Value: v, OK: v != s.off}
		r.Sysctls = append(r.Sysctls, sc)
		if !sc.OK {
			r.problem(fmt.Sprintf("%s=%s disables user namespaces for unprivileged users", s.setting, v), s.fix)
		}
	}

	r.Tun = probeDevice("/dev/net/tun", "slirp4netns and pasta cannot create the container's network interface")
	r.Fuse = probeDevice("/dev/fuse", "fuse-overlayfs cannot be used as a fallback for native overlay")
	for _, d := range []Device{r.Tun, r.Fuse} {
		if !d.OK {
			r.problem(d.Path+" is not usable: "+d.Status, "sudo chmod 0666 "+d.Path+" (the mode distributions ship)")
		}
	}

	r.Slirp = lookTool("slirp4netns", "--version")
	r.Pasta = lookTool("pasta", "--version")
	r.FuseOvl = lookTool("fuse-overlayfs", "--version")
	if !r.Slirp.OK && !r.Pasta.OK {
		r.problem("neither slirp4netns nor pasta is installed: containers can only use --network none or host",
			"sudo apt-get install slirp4netns (or passt for pasta)")
	}

	r.Cgroup = probeCgroup(os.Getuid())
	if !r.Cgroup.Delegated {
		r.problem("no delegated cgroup v2 subtree ("+r.Cgroup.Version+"): resource limits (--memory, --cpus, --pids-limit) and pause are unavailable",
			"boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1) and run ctr in a systemd user session (Delegate=yes)")
	}
	return r
}

func (r *Report) problem(p, fix string) {
	r.Problems = append(r.Problems, Problem{Problem: p, Fix: fix})
}

func readIDMap(path string) ([]specs.LinuxIDMapping, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m []specs.LinuxIDMapping
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		c, err1 := strconv.ParseUint(f[0], 10, 32)
		h, err2 := strconv.ParseUint(f[1], 10, 32)
		n, err3 := strconv.ParseUint(f[2], 10, 32)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m = append(m, specs.LinuxIDMapping{ContainerID: uint32(c), HostID: uint32(h), Size: uint32(n)})
	}
	return m, nil
}

// hostID returns the host ID that id maps to.
func hostID(m []specs.LinuxIDMapping, id int) int {
	for _, e := range m {
		if uint32(id) >= e.ContainerID && uint32(id)-e.ContainerID < e.Size {
			return int(e.HostID + uint32(id) - e.ContainerID)
		}
	}
	return id
}

// userNameFromPasswd reads /etc/passwd directly; os/user would answer for
// the namespace's uid 0.
func userNameFromPasswd(uid int) string {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return strconv.Itoa(uid)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) > 2 && fields[2] == strconv.Itoa(uid) {
			return fields[0]
		}
	}
	return strconv.Itoa(uid)
}

func idMapTool(name string) Tool {
	p, err := exec.LookPath(name)
	if err != nil {
		return Tool{Status: "not installed"}
	}
	ok, how := helperUsable(p)
	return Tool{Path: p, OK: ok, Status: how}
}

func lookTool(name, versionFlag string) Tool {
	p, err := exec.LookPath(name)
	if err != nil {
		return Tool{Status: "not installed"}
	}
	out, _ := exec.Command(p, versionFlag).CombinedOutput()
	version := "installed"
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.Contains(line, "version") {
			version = strings.TrimSpace(line)
			break
		}
	}
	return Tool{Path: p, OK: true, Status: version}
}

func probeDevice(path, consequence string) Device {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return Device{Path: path, Status: fmt.Sprintf("%v; %s", errors.Unwrap(err), consequence)}
	}
	f.Close()
	return Device{Path: path, OK: true, Status: "usable"}
}

// probeCgroup finds the cgroup version and whether the user's own cgroup v2
// subtree is delegated (owned by the user, with controllers enabled). uid is
// the caller's uid as this process sees it (0 inside the namespace).
func probeCgroup(uid int) Cgroup {
	var c Cgroup
	var st unix.Statfs_t
	unified := "/sys/fs/cgroup"
	switch {
	case unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC:
		c.Version = "v2"
	case unix.Statfs("/sys/fs/cgroup/unified", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC:
		c.Version, unified = "hybrid", "/sys/fs/cgroup/unified"
	default:
		c.Version = "v1"
		return c
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return c
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if p, ok := bytes.CutPrefix(line, []byte("0::")); ok {
			c.Path = string(p)
		}
	}
	if c.Version != "v2" || c.Path == "" {
		return c
	}
	dir := filepath.Join(unified, c.Path)
	if ctrl, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers")); err == nil {
		c.Controllers = strings.Fields(string(ctrl))
	}
	var dst unix.Stat_t
	if unix.Stat(dir, &dst) == nil && int(dst.Uid) == uid && len(c.Controllers) > 0 {
		c.Delegated = true
	}
	return c
}

// CurrentMappings returns this process's user namespace ID mappings.
func CurrentMappings() (uids, gids []specs.LinuxIDMapping, err error) {
	if uids, err = readIDMap("/proc/self/uid_map"); err != nil {
		return nil, nil, err
	}
	if gids, err = readIDMap("/proc/self/gid_map"); err != nil {
		return nil, nil, err
	}
	return uids, gids, nil
}
