package engine

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ctr-project/ctr/pkg/container"
	securejoin "github.com/cyphar/filepath-securejoin"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
	"go.podman.io/storage/pkg/idtools"
)

// `ctr cp` follows docker's rules (copying a directory into an existing
// directory nests it, "SRC/." copies the contents, a file onto a file
// replaces it). Everything that touches the container's filesystem is
// chrooted into its root by go.podman.io/storage's chrootarchive, so a
// symlink in the container, even one swapped in while the copy runs, can
// never reach a host path (CVE-2018-15664, CVE-2019-10152). A running
// container's root is mounted only in its monitor's mount namespace, so the
// container side of the copy runs there: the monitor hands the connection
// to the ctr binary (serveCopy, through HelperMain). For a stopped
// container this process mounts the root itself. Paths on a bind mount or
// a volume are in neither: they are copied from or to the mount's source
// (hostMountOf).

// CopyOptions configure a copy.
type CopyOptions struct {
	// Archive keeps owners (container IDs) on both sides; without it files
	// copied in belong to the container's root and files copied out to
	// the user.
	Archive bool
}

// copyRequest is the first frame of a copy on the monitor's socket.
type copyRequest struct {
	Path    string           `json:"path"`
	Source  archive.CopyInfo `json:"source"` // copy in: what the content is
	Archive bool             `json:"archive"`
}

// CopyFromContainer copies PATH in the container to dst on the host.
func (e *Engine) CopyFromContainer(nameOrID, path, dst string, o CopyOptions) error {
	c, err := e.Container(nameOrID)
	if err != nil {
		return err
	}
	m, onMount, err := e.hostMountOf(c, path)
	if err != nil {
		return err
	}
	var info archive.CopyInfo
	var content io.ReadCloser
	switch {
	case onMount:
		info, content, err = tarFromRoot(m.root, m.path)
		if err == nil && m.path == "/" {
			// The whole mount: its entries are named after the
			// directory the user named, as for any other directory.
			info.Path = path
			content = prefixEntries(content, m.name)
		}
	case c.Running():
		info, content, err = e.remoteCopyOut(c, path)
	default:
		var rootfs string
		if rootfs, err = e.store.MountContainer(c.ID); err != nil {
			return err
		}
		defer e.store.UnmountContainer(c.ID)
		info, content, err = tarFromRoot(rootfs, path)
	}
	if err != nil {
		return err
	}
	defer content.Close()
	// Absolute: go.podman.io/storage creates the directories it implies
	// only below an absolute path.
	if dst, err = filepath.Abs(dst); err != nil {
		return err
	}
	dstInfo, err := archive.CopyInfoDestinationPath(dst)
	if err != nil {
		return err
	}
	dstDir, prepared, err := archive.PrepareArchiveCopy(content, info, dstInfo)
	if err != nil {
		return err
	}
	defer prepared.Close()
	return archive.Untar(prepared, dstDir, &archive.TarOptions{NoLchown: !o.Archive, NoOverwriteDirNonDir: true})
}

// CopyToContainer copies src on the host to PATH in the container.
func (e *Engine) CopyToContainer(nameOrID, src, path string, o CopyOptions) error {
	c, err := e.Container(nameOrID)
	if err != nil {
		return err
	}
	info, err := archive.CopyInfoSourcePath(src, false)
	if err != nil {
		return err
	}
	content, err := archive.TarResource(info)
	if err != nil {
		return err
	}
	defer content.Close()
	m, onMount, err := e.hostMountOf(c, path)
	if err != nil {
		return err
	}
	if onMount {
		if m.readOnly {
			return fmt.Errorf("%s in the container is on a read-only mount (%s)", path, m.root)
		}
		return untarIntoRoot(m.root, m.path, info, content, o.Archive)
	}
	if c.Running() {
		return e.remoteCopyIn(c, path, info, content, o)
	}
	rootfs, err := e.store.MountContainer(c.ID)
	if err != nil {
		return err
	}
	defer e.store.UnmountContainer(c.ID)
	return untarIntoRoot(rootfs, path, info, content, o.Archive)
}

// hostMount is where a container path lies when a bind mount or a volume
// covers it: such paths are not in the root filesystem that the copy
// otherwise reads or writes (the container's mounts exist only in its own
// mount namespace), so the copy goes to the mount's source on the host,
// chrooted into it like the root.
type hostMount struct {
	root     string // the source directory on the host
	path     string // the path below it, with the user's trailing "/" or "/."
	name     string // the mount point's base name in the container
	readOnly bool
}

// hostMountOf finds the bind mount or volume that covers path in c (the
// deepest one), by path as the user wrote it: a symlink in the container
// leading onto a mount is not followed there (the copy then stays in the
// root filesystem). A file bind-mounted from the host is refused with
// where it is, rather than copied from or over the placeholder beneath it.
func (e *Engine) hostMountOf(c *Container, p string) (hostMount, bool, error) {
	clean := filepath.Clean("/" + p)
	var best hostMount
	bestDest := ""
	consider := func(dest, source string, options []string) {
		dest = filepath.Clean(dest)
		under := clean == dest || strings.HasPrefix(clean, dest+"/")
		if !under || len(dest) <= len(bestDest) {
			return
		}
		bestDest = dest
		best = hostMount{root: source, name: filepath.Base(dest), readOnly: slices.Contains(options, "ro")}
	}
	for _, m := range c.Mounts {
		if m.Type == "bind" {
			consider(m.Destination, m.Source, m.Options)
		}
	}
	for _, v := range c.Volumes {
		consider(v.Destination, e.volumes.Mountpoint(v.Name), v.Options)
	}
	if bestDest == "" {
		return hostMount{}, false, nil
	}
	fi, err := os.Stat(best.root)
	if err != nil {
		return hostMount{}, false, fmt.Errorf("%s in the container is mounted from %s: %w", bestDest, best.root, err)
	}
	if !fi.IsDir() {
		return hostMount{}, false, fmt.Errorf("%s in the container is the host's file %s: copy it there", bestDest, best.root)
	}
	best.path = "/" + strings.TrimPrefix(strings.TrimPrefix(clean, bestDest), "/")
	switch {
	case strings.HasSuffix(p, "/."):
		best.path = strings.TrimSuffix(best.path, "/") + "/."
	case strings.HasSuffix(p, "/") && best.path != "/":
		best.path += "/"
	}
	return best, true, nil
}

// prefixEntries renames every entry of a tar stream of a whole directory
// (named "." and "./a", "./b/c", as tarFromRoot names them) to live under
// prefix, hard-link targets included.
func prefixEntries(rc io.ReadCloser, prefix string) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		defer rc.Close()
		tr, tw := tar.NewReader(rc), tar.NewWriter(pw)
		rename := func(name string) string {
			name = strings.TrimPrefix(name, "./")
			if name == "." || name == "" || name == "./" {
				return prefix + "/"
			}
			return prefix + "/" + name
		}
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				pw.CloseWithError(tw.Close())
				return
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			hdr.Name = rename(hdr.Name)
			if hdr.Typeflag == tar.TypeLink {
				hdr.Linkname = rename(hdr.Linkname)
			}
			if err := tw.WriteHeader(hdr); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}

// tarFromRoot archives path of the container mounted at rootfs. A
// symlink as the last component is followed (docker cp -L).
func tarFromRoot(rootfs, path string) (archive.CopyInfo, io.ReadCloser, error) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	contents := strings.HasSuffix(path, "/.")
	resolved, err := securejoin.SecureJoin(rootfs, path)
	if err != nil {
		return archive.CopyInfo{}, nil, err
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return archive.CopyInfo{}, nil, fmt.Errorf("%s in the container: %w", path, errors.Unwrap(err))
	}
	rel, err := filepath.Rel(rootfs, resolved)
	if err != nil {
		return archive.CopyInfo{}, nil, err
	}
	inRoot := filepath.Join("/", rel)
	dir, base := filepath.Split(inRoot)
	if contents || inRoot == "/" {
		dir, base = inRoot, "."
	}
	// The contents of a directory are named "./NAME": that is what the
	// destination side renames to the destination's name when it does
	// not exist yet ("NAME" alone would land beside it).
	opts := &archive.TarOptions{IncludeFiles: []string{base}, IncludeSourceDir: true}
	// Entries are named as the user named the source, which is what the
	// destination side renames from.
	if want := filepath.Base(path); base != "." && want != base {
		opts.RebaseNames = map[string]string{base: want}
	}
	rc, err := chrootarchive.Tar(dir, opts, rootfs)
	if err != nil {
		return archive.CopyInfo{}, nil, err
	}
	return archive.CopyInfo{Path: path, Exists: true, IsDir: fi.IsDir()}, rc, nil
}

// untarIntoRoot extracts content (described by info) to path in the
// container mounted at rootfs.
func untarIntoRoot(rootfs, path string, info archive.CopyInfo, content io.Reader, keepOwners bool) error {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	resolved, err := securejoin.SecureJoin(rootfs, path)
	if err != nil {
		return err
	}
	dstInfo := archive.CopyInfo{Path: resolved}
	if fi, err := os.Stat(resolved); err == nil {
		dstInfo.Exists, dstInfo.IsDir = true, fi.IsDir()
	} else if _, perr := os.Stat(filepath.Dir(resolved)); perr != nil {
		return fmt.Errorf("%s in the container: %w", filepath.Dir(path), errors.Unwrap(perr))
	}
	if strings.HasSuffix(path, "/") && !dstInfo.Exists {
		dstInfo.Path += "/"
	}
	dstDir, prepared, err := archive.PrepareArchiveCopy(content, info, dstInfo)
	if err != nil {
		return err
	}
	defer prepared.Close()
	opts := &archive.TarOptions{NoOverwriteDirNonDir: true}
	if !keepOwners {
		opts.ChownOpts = &idtools.IDPair{UID: 0, GID: 0}
	}
	return chrootarchive.UntarWithRoot(prepared, dstDir, opts, rootfs)
}

func (e *Engine) remoteCopyOut(c *Container, path string) (archive.CopyInfo, io.ReadCloser, error) {
	conn, err := e.dialAttach(c.ID)
	if err != nil {
		return archive.CopyInfo{}, nil, err
	}
	req, _ := json.Marshal(copyRequest{Path: path})
	if err := container.WriteFrame(conn, container.FrameCopyOut, req); err != nil {
		conn.Close()
		return archive.CopyInfo{}, nil, err
	}
	typ, payload, err := container.ReadFrame(conn)
	if err != nil {
		conn.Close()
		return archive.CopyInfo{}, nil, err
	}
	if typ == container.FrameError {
		conn.Close()
		return archive.CopyInfo{}, nil, errors.New(string(payload))
	}
	var info archive.CopyInfo
	if err := json.Unmarshal(payload, &info); err != nil {
		conn.Close()
		return info, nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer conn.Close()
		for {
			typ, payload, err := container.ReadFrame(conn)
			switch {
			case err != nil:
				pw.CloseWithError(err)
				return
			case typ == container.FrameStdout:
				if _, err := pw.Write(payload); err != nil {
					return
				}
			case typ == container.FrameError:
				pw.CloseWithError(errors.New(string(payload)))
				return
			default:
				pw.Close()
				return
			}
		}
	}()
	return info, pr, nil
}

func (e *Engine) remoteCopyIn(c *Container, path string, info archive.CopyInfo, content io.Reader, o CopyOptions) error {
	conn, err := e.dialAttach(c.ID)
	if err != nil {
		return err
	}
	defer conn.Close()
	req, _ := json.Marshal(copyRequest{Path: path, Source: info, Archive: o.Archive})
	if err := container.WriteFrame(conn, container.FrameCopyIn, req); err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := content.Read(buf)
		if n > 0 {
			if err := container.WriteFrame(conn, container.FrameStdin, buf[:n]); err != nil {
				return err
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if err := container.WriteFrame(conn, container.FrameEOF, nil); err != nil {
		return err
	}
	typ, payload, err := container.ReadFrame(conn)
	if err != nil {
		return err
	}
	if typ == container.FrameError {
		return errors.New(string(payload))
	}
	return nil
}

// serveCopy runs the container side of a copy whose first frame was typ
// with payload, for the running container whose root filesystem is
// mounted at rootfs in this mount namespace (the monitor's). It answers
// the client on conn, failures included, and returns them too.
func serveCopy(conn io.ReadWriter, rootfs string, typ byte, payload []byte) error {
	fail := func(err error) error {
		_ = container.WriteFrame(conn, container.FrameError, []byte(err.Error()))
		return err
	}
	var req copyRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		return fail(err)
	}
	if typ == container.FrameCopyOut {
		info, rc, err := tarFromRoot(rootfs, req.Path)
		if err != nil {
			return fail(err)
		}
		defer rc.Close()
		b, _ := json.Marshal(info)
		if err := container.WriteFrame(conn, container.FrameCopyInfo, b); err != nil {
			return err
		}
		buf := make([]byte, 256<<10)
		for {
			n, err := rc.Read(buf)
			if n > 0 {
				if werr := container.WriteFrame(conn, container.FrameStdout, buf[:n]); werr != nil {
					return werr
				}
			}
			if errors.Is(err, io.EOF) {
				return container.WriteFrame(conn, container.FrameExit, make([]byte, 4))
			}
			if err != nil {
				return fail(err)
			}
		}
	}
	pr, pw := io.Pipe()
	go func() {
		for {
			t, data, err := container.ReadFrame(conn)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if t == container.FrameEOF {
				pw.Close()
				return
			}
			if _, err := pw.Write(data); err != nil {
				return
			}
		}
	}()
	err := untarIntoRoot(rootfs, req.Path, req.Source, pr, req.Archive)
	// The client may still be sending (tar padding after the end marker,
	// or the rest after a failure): take all of it before answering, so it
	// reads the answer instead of a broken pipe.
	_, _ = io.Copy(io.Discard, pr)
	if err != nil {
		return fail(err)
	}
	return container.WriteFrame(conn, container.FrameExit, make([]byte, 4))
}
