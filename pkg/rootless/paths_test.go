package rootless

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// env returns a getenv that answers from m only.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// privateDir makes a directory with mode 0700, whatever the umask.
func privateDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRootlessPathsDataDir(t *testing.T) {
	t.Setenv(envMode, "")
	uid := os.Getuid()
	runtimeDir := privateDir(t)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{
			name: "XDG_DATA_HOME wins over HOME",
			env:  map[string]string{"XDG_DATA_HOME": "/data", "HOME": "/home/alice"},
			want: "/data/ctr",
		},
		{
			name: "HOME when XDG_DATA_HOME is unset",
			env:  map[string]string{"HOME": "/home/alice"},
			want: "/home/alice/.local/share/ctr",
		},
		{
			name: "XDG_DATA_HOME alone",
			env:  map[string]string{"XDG_DATA_HOME": "/data/"},
			want: "/data/ctr",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["XDG_RUNTIME_DIR"] = runtimeDir
			p, err := rootlessPaths(env(tt.env), uid)
			if err != nil {
				t.Fatalf("rootlessPaths(%v) error = %v", tt.env, err)
			}
			if p.DataDir != tt.want {
				t.Errorf("rootlessPaths(%v).DataDir = %q, want %q", tt.env, p.DataDir, tt.want)
			}
			if want := filepath.Join(runtimeDir, "ctr"); p.RuntimeDir != want || p.RuntimeDirNote != "" {
				t.Errorf("rootlessPaths(%v) runtime = %q, %q, want %q, no note", tt.env, p.RuntimeDir, p.RuntimeDirNote, want)
			}
		})
	}

	t.Run("no HOME and no XDG_DATA_HOME", func(t *testing.T) {
		m := map[string]string{"XDG_RUNTIME_DIR": runtimeDir}
		_, err := rootlessPaths(env(m), uid)
		if !errors.Is(err, ErrNoHome) {
			t.Errorf("rootlessPaths(%v) error = %v, want %v", m, err, ErrNoHome)
		}
	})
}

func TestRootlessPathsInNamespace(t *testing.T) {
	// Inside the namespace the host side already validated XDG_RUNTIME_DIR;
	// it is used as given, even if it does not exist here.
	t.Setenv(envMode, string(ModeSubIDs))
	m := map[string]string{"HOME": "/home/alice", "XDG_RUNTIME_DIR": "/nonexistent/run"}
	p, err := rootlessPaths(env(m), 0)
	if err != nil {
		t.Fatalf("rootlessPaths(%v) error = %v", m, err)
	}
	want := Paths{DataDir: "/home/alice/.local/share/ctr", RuntimeDir: "/nonexistent/run/ctr"}
	if p != want {
		t.Errorf("rootlessPaths(%v) = %+v, want %+v", m, p, want)
	}
}

func TestUserPathsRootless(t *testing.T) {
	t.Setenv(envMode, string(ModeSubIDs))
	m := map[string]string{"XDG_DATA_HOME": "/data", "XDG_RUNTIME_DIR": "/run/user/1000"}
	p, err := UserPaths(env(m))
	if err != nil {
		t.Fatalf("UserPaths(%v) error = %v", m, err)
	}
	want := Paths{DataDir: "/data/ctr", RuntimeDir: "/run/user/1000/ctr"}
	if p != want {
		t.Errorf("UserPaths(%v) = %+v, want %+v", m, p, want)
	}
}

func TestRuntimeBase(t *testing.T) {
	t.Setenv(envMode, "")
	uid := os.Getuid()

	t.Run("usable XDG_RUNTIME_DIR", func(t *testing.T) {
		xdg := privateDir(t)
		tmp := t.TempDir()
		dir, note, err := runtimeBase(env(map[string]string{"XDG_RUNTIME_DIR": xdg, "TMPDIR": tmp}), uid)
		if dir != xdg || note != "" || err != nil {
			t.Errorf("runtimeBase(XDG_RUNTIME_DIR=%s) = %q, %q, %v, want %q, \"\", nil", xdg, dir, note, err, xdg)
		}
		if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
			t.Errorf("runtimeBase(XDG_RUNTIME_DIR=%s) created %v in TMPDIR, want nothing", xdg, entries)
		}
	})

	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	openDir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(openDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(openDir, 0o777); err != nil {
		t.Fatal(err)
	}
	groupDir := filepath.Join(t.TempDir(), "group")
	if err := os.Mkdir(groupDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(groupDir, 0o770); err != nil {
		t.Fatal(err)
	}

	fallbacks := []struct {
		name     string
		xdg      string
		wantNote []string
	}{
		{"unset", "", []string{"XDG_RUNTIME_DIR is not set"}},
		{"missing", filepath.Join(t.TempDir(), "missing"), []string{"is not usable", "no such file or directory"}},
		{"not a directory", notDir, []string{"is not usable (not a directory)"}},
		{"writable by others", openDir, []string{"is not usable (mode 0777 is writable by others)"}},
		{"writable by group", groupDir, []string{"is not usable (mode 0770 is writable by others)"}},
	}
	for _, tt := range fallbacks {
		t.Run("fallback when XDG_RUNTIME_DIR is "+tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			m := map[string]string{"XDG_RUNTIME_DIR": tt.xdg, "TMPDIR": tmp}
			dir, note, err := runtimeBase(env(m), uid)
			if err != nil {
				t.Fatalf("runtimeBase(%v) error = %v, want nil", m, err)
			}
			want := filepath.Join(tmp, "ctr-run-"+strconv.Itoa(uid))
			if dir != want {
				t.Errorf("runtimeBase(%v) dir = %q, want %q", m, dir, want)
			}
			fi, err := os.Lstat(dir)
			if err != nil {
				t.Fatalf("fallback %s was not created: %v", dir, err)
			}
			if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Errorf("fallback %s has mode %v, want a directory with mode 0700", dir, fi.Mode())
			}
			for _, s := range append(tt.wantNote, "; using "+want) {
				if !strings.Contains(note, s) {
					t.Errorf("runtimeBase(%v) note = %q, want it to contain %q", m, note, s)
				}
			}
			if tt.xdg != "" && !strings.Contains(note, tt.xdg) {
				t.Errorf("runtimeBase(%v) note = %q, want it to name %s", m, note, tt.xdg)
			}
		})
	}

	t.Run("existing private fallback is reused", func(t *testing.T) {
		tmp := t.TempDir()
		want := filepath.Join(tmp, "ctr-run-"+strconv.Itoa(uid))
		if err := os.Mkdir(want, 0o700); err != nil {
			t.Fatal(err)
		}
		marker := filepath.Join(want, "keep")
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		dir, _, err := runtimeBase(env(map[string]string{"TMPDIR": tmp}), uid)
		if dir != want || err != nil {
			t.Errorf("runtimeBase(TMPDIR=%s) = %q, %v, want %q, nil", tmp, dir, err, want)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("existing fallback content was lost: %v", err)
		}
	})

	unsafe := []struct {
		name  string
		setup func(t *testing.T, fallback string)
		uid   int
		want  string
	}{
		{
			name: "symlink",
			setup: func(t *testing.T, fallback string) {
				target := privateDir(t)
				if err := os.Symlink(target, fallback); err != nil {
					t.Fatal(err)
				}
			},
			uid:  uid,
			want: "not a directory",
		},
		{
			name: "mode 0777",
			setup: func(t *testing.T, fallback string) {
				if err := os.Mkdir(fallback, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(fallback, 0o777); err != nil {
					t.Fatal(err)
				}
			},
			uid:  uid,
			want: "writable by others",
		},
		{
			name: "regular file",
			setup: func(t *testing.T, fallback string) {
				if err := os.WriteFile(fallback, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			uid:  uid,
			want: "not a directory",
		},
		{
			// The directory is ours, but we ask for another uid: this is
			// what another user pre-creating it looks like.
			name:  "owned by someone else",
			setup: func(t *testing.T, fallback string) {},
			uid:   uid + 1,
			want:  "not owned by uid " + strconv.Itoa(uid+1),
		},
	}
	for _, tt := range unsafe {
		t.Run("pre-existing fallback that is a "+tt.name+" is refused", func(t *testing.T) {
			tmp := t.TempDir()
			fallback := filepath.Join(tmp, "ctr-run-"+strconv.Itoa(tt.uid))
			tt.setup(t, fallback)
			m := map[string]string{"TMPDIR": tmp}
			dir, _, err := runtimeBase(env(m), tt.uid)
			if err == nil {
				t.Fatalf("runtimeBase(%v) = %q, nil, want an error", m, dir)
			}
			for _, s := range []string{fallback, tt.want, "is unsafe"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("runtimeBase(%v) error = %q, want it to contain %q", m, err, s)
				}
			}
		})
	}

	t.Run("fallback cannot be created", func(t *testing.T) {
		m := map[string]string{"TMPDIR": filepath.Join(t.TempDir(), "no", "such", "dir")}
		if dir, _, err := runtimeBase(env(m), uid); err == nil {
			t.Errorf("runtimeBase(%v) = %q, nil, want an error", m, dir)
		}
	})
}

func TestCheckPrivateDir(t *testing.T) {
	uid := os.Getuid()
	good := privateDir(t)
	open := privateDir(t)
	if err := os.Chmod(open, 0o757); err != nil {
		t.Fatal(err)
	}
	readable := privateDir(t)
	if err := os.Chmod(readable, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		uid  int
		want string // "" means usable; else a substring of the problem
	}{
		{"private directory", good, uid, ""},
		{"readable by others is fine", readable, uid, ""},
		{"writable by others", open, uid, "mode 0757 is writable by others"},
		{"symlink to a private directory", link, uid, "not a directory"},
		{"missing", filepath.Join(good, "missing"), uid, "no such file or directory"},
		{"wrong owner", good, uid + 1, "not owned by uid " + strconv.Itoa(uid+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkPrivateDir(tt.path, tt.uid)
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("checkPrivateDir(%q, %d) = %q, want %q", tt.path, tt.uid, got, tt.want)
			}
		})
	}
}
