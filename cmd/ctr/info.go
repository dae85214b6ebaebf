package main

import (
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"text/template"

	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/spf13/cobra"
)

// infoReport is `ctr info`: the host preflight, the store and the version.
type infoReport struct {
	Host    rootless.Report `json:"host"`
	Store   storeInfo       `json:"store"`
	Version versionInfo     `json:"version"`
}

type storeInfo struct {
	GraphRoot       string `json:"graphRoot"`
	RunRoot         string `json:"runRoot"`
	GraphDriverName string `json:"graphDriverName"`
	DriverReason    string `json:"graphDriverReason"`
	ImageCount      int    `json:"imageCount"`
	Error           string `json:"error,omitempty"`
}

const infoTemplate = `host:
  mode: {{.Host.Mode}}
  user: {{.Host.User}} (uid {{.Host.UID}}, gid {{.Host.GID}})
  kernel: {{.Host.Kernel}}
  uidMap:{{range .Host.UIDMap}}
  - container {{.ContainerID}} -> host {{.HostID}} (size {{.Size}}){{else}} none{{end}}
  gidMap:{{range .Host.GIDMap}}
  - container {{.ContainerID}} -> host {{.HostID}} (size {{.Size}}){{else}} none{{end}}
  subUIDs:{{range .Host.SubUIDs}} {{.Start}}+{{.Count}}{{else}} none{{end}}
  subGIDs:{{range .Host.SubGIDs}} {{.Start}}+{{.Count}}{{else}} none{{end}}
  newuidmap: {{tool .Host.NewUIDMap}}
  newgidmap: {{tool .Host.NewGIDMap}}
  sysctls:{{range .Host.Sysctls}}
    {{.Name}}: {{.Value}}{{end}}
  /dev/net/tun: {{.Host.Tun.Status}}
  /dev/fuse: {{.Host.Fuse.Status}}
  slirp4netns: {{tool .Host.Slirp}}
  pasta: {{tool .Host.Pasta}}
  fuse-overlayfs: {{tool .Host.FuseOvl}}
  cgroup: {{.Host.Cgroup.Version}}{{if .Host.Cgroup.Delegated}} (delegated: {{join .Host.Cgroup.Controllers " "}}){{else}} (not delegated){{end}}
store:
{{- if .Store.Error}}
  error: {{.Store.Error}}
{{- else}}
  graphRoot: {{.Store.GraphRoot}}
  runRoot: {{.Store.RunRoot}}
  graphDriverName: {{.Store.GraphDriverName}}
  graphDriverReason: {{.Store.DriverReason}}
  imageCount: {{.Store.ImageCount}}
{{- end}}
version:
  version: {{.Version.Version}}
  goVersion: {{.Version.GoVersion}}
problems:{{range .Host.Problems}}
- {{.Problem}}
  fix: {{.Fix}}{{else}} none{{end}}
`

func newInfoCommand(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [options]",
		Short: "Show the host's readiness for rootless containers and the store",
		Long: "Show the ID mapping in use, subordinate ID ranges, helper programs, user namespace settings,\n" +
			"device and cgroup status, and the store. Every problem is listed with its fix, so this is also\n" +
			"the preflight check. Works even when user namespaces cannot be created.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep := infoReport{Version: currentVersion()}
			name := ""
			if a.mode == "" {
				if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
					name = u.Username
				}
			}
			rep.Host = rootless.Preflight(name)
			rep.Store = a.storeInfo()
			switch format {
			case "":
				return template.Must(template.New("info").Funcs(templateFuncs).Funcs(template.FuncMap{
					"tool": func(t rootless.Tool) string {
						if t.Path == "" {
							return t.Status
						}
						return fmt.Sprintf("%s (%s)", t.Path, t.Status)
					},
				}).Parse(infoTemplate)).Execute(a.stdout, rep)
			case "json":
				return writeJSON(a.stdout, rep)
			}
			return writeTemplate(a.stdout, format, []infoReport{rep}, nil)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "\"json\" or a Go template")
	return needsUserNS(cmd, userNSOptional)
}

func (a *app) storeInfo() storeInfo {
	var si storeInfo
	if a.nsErr != nil {
		si.Error = a.nsErr.Error()
		return si
	}
	err := a.withStore(func(s *storage.Store) error {
		images, err := s.Images()
		if err != nil {
			return err
		}
		si.GraphRoot, si.RunRoot = s.GraphRoot(), s.RunRoot()
		si.GraphDriverName, si.DriverReason = s.Driver().Driver, s.Driver().Reason
		si.ImageCount = len(images)
		return nil
	})
	if err != nil {
		si.Error = err.Error()
	}
	return si
}

type versionInfo struct {
	Version   string `json:"Version"`
	GoVersion string `json:"GoVersion"`
	GitCommit string `json:"GitCommit"`
	OsArch    string `json:"OsArch"`
}

func currentVersion() versionInfo {
	return versionInfo{Version: version, GoVersion: runtime.Version(), GitCommit: gitCommit, OsArch: runtime.GOOS + "/" + runtime.GOARCH}
}
