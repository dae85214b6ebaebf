package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/oci"
	"github.com/ctr-project/ctr/pkg/volume"
	securejoin "github.com/cyphar/filepath-securejoin"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
)

// VolumeMount mounts a named (or, with an empty Name, a new anonymous)
// volume into a container.
type VolumeMount struct {
	Name        string
	Destination string
	// Options are runtime-spec bind options (ro, rw, propagation).
	Options []string
}

// Volumes returns the volume store.
func (e *Engine) Volumes() *volume.Store { return e.volumes }

// prepareVolumes creates the container's volumes (those it names, new
// anonymous ones, and one for each image VOLUME nothing else covers),
// copies image content into new ones as docker does, and returns the bind
// mounts and the record for the container's config.
func (e *Engine) prepareVolumes(rootfs string, requested []VolumeMount, imageVolumes map[string]struct{}, userMounts []oci.Mount) ([]oci.Mount, []container.Volume, error) {
	covered := map[string]bool{}
	for _, m := range userMounts {
		covered[m.Destination] = true
	}
	for _, v := range requested {
		covered[v.Destination] = true
	}
	all := slices.Clone(requested)
	var imagePaths []string
	for p := range imageVolumes {
		imagePaths = append(imagePaths, filepath.Clean(p))
	}
	slices.Sort(imagePaths)
	for _, p := range imagePaths {
		if !covered[p] {
			all = append(all, VolumeMount{Destination: p})
		}
	}
	var mounts []oci.Mount
	var record []container.Volume
	for _, vm := range all {
		v, err := e.volumes.Create(vm.Name, volume.CreateOptions{Anonymous: vm.Name == "", IgnoreExisting: true})
		if err != nil {
			return nil, record, err
		}
		record = append(record, container.Volume{Name: v.Name, Destination: vm.Destination, Anonymous: v.Anonymous, Options: vm.Options})
		if v.NeedsCopyUp {
			if err := copyUp(rootfs, vm.Destination, v.Mountpoint); err != nil {
				return nil, record, fmt.Errorf("volume %s: copy %s from the image: %w", v.Name, vm.Destination, err)
			}
			if err := e.volumes.CopiedUp(v.Name); err != nil {
				return nil, record, err
			}
		}
		opts := append([]string{"rbind"}, vm.Options...)
		if !slices.ContainsFunc(opts, func(o string) bool {
			return o == "private" || o == "rprivate" || o == "slave" || o == "rslave" || o == "shared" || o == "rshared"
		}) {
			opts = append(opts, "rprivate")
		}
		mounts = append(mounts, oci.Mount{Type: "bind", Source: v.Mountpoint, Destination: vm.Destination, Options: opts})
	}
	return mounts, record, nil
}

// copyUp copies the image's directory at dest into an empty volume, with
// owners, modes and times. The source is read chrooted into the rootfs, so
// symlinks in the image resolve inside it.
func copyUp(rootfs, dest, data string) error {
	entries, err := os.ReadDir(data)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return nil // someone put content there already: keep it
	}
	src, err := securejoin.SecureJoin(rootfs, dest)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return nil
	}
	rel, err := filepath.Rel(rootfs, src)
	if err != nil {
		return err
	}
	rc, err := chrootarchive.Tar(filepath.Join("/", rel), &archive.TarOptions{}, rootfs)
	if err != nil {
		return err
	}
	defer rc.Close()
	return chrootarchive.Untar(rc, data, &archive.TarOptions{})
}

// volumeUsers maps volume names to the containers that mount them.
func (e *Engine) volumeUsers() (map[string][]string, error) {
	cs, err := e.Containers()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, c := range cs {
		for _, v := range c.Volumes {
			users[v.Name] = append(users[v.Name], c.Name)
		}
	}
	return users, nil
}

// RemoveVolume deletes a volume; one in use is removed only with force,
// which removes the containers using it first (podman).
func (e *Engine) RemoveVolume(name string, force bool) error {
	users, err := e.volumeUsers()
	if err != nil {
		return err
	}
	if len(users[name]) > 0 {
		if !force {
			return fmt.Errorf("%w: volume %s is used by %v: remove them first or use --force", volume.ErrInUse, name, users[name])
		}
		for _, c := range users[name] {
			if _, err := e.Remove(c, RemoveOptions{Force: true}); err != nil {
				return err
			}
		}
	}
	return e.volumes.Remove(name, false)
}

// PruneVolumes removes every volume no container uses.
func (e *Engine) PruneVolumes() ([]string, error) {
	users, err := e.volumeUsers()
	if err != nil {
		return nil, err
	}
	vs, err := e.volumes.List()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, v := range vs {
		if len(users[v.Name]) > 0 {
			continue
		}
		if err := e.volumes.Remove(v.Name, false); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, v.Name)
	}
	return removed, errors.Join(errs...)
}
