package oci

import (
	"bytes"
	"reflect"
	"testing"
)

func TestResolveUser(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		passwd  []byte // testPasswd when nil and !noFiles
		group   []byte
		noFiles bool
		want    User
		wantErr error
	}{
		{spec: "", want: User{UID: 0, GID: 0, AdditionalGids: []uint32{10}, Name: "root", Home: "/root"}},
		{spec: "root", want: User{UID: 0, GID: 0, AdditionalGids: []uint32{10}, Name: "root", Home: "/root"}},
		{spec: "0", want: User{UID: 0, GID: 0, AdditionalGids: []uint32{10}, Name: "root", Home: "/root"}},
		{spec: "nobody", want: User{UID: 65534, GID: 65534, AdditionalGids: []uint32{}, Name: "nobody", Home: "/home"}},
		{spec: "sync", want: User{UID: 4, GID: 100, AdditionalGids: []uint32{}, Name: "sync", Home: "/bin"}},
		{spec: "4", want: User{UID: 4, GID: 100, AdditionalGids: []uint32{}, Name: "sync", Home: "/bin"}},
		// uid alone without an entry: gid 0, HOME /, no supplementary groups.
		{spec: "1000", want: User{UID: 1000, GID: 0, AdditionalGids: []uint32{}, Home: "/"}},
		{spec: "1000:1000", want: User{UID: 1000, GID: 1000, AdditionalGids: []uint32{}, Home: "/"}},
		{spec: "daemon:wheel", want: User{UID: 1, GID: 10, AdditionalGids: []uint32{}, Name: "daemon", Home: "/usr/sbin"}},
		{spec: "nobody:0", want: User{UID: 65534, GID: 0, AdditionalGids: []uint32{}, Name: "nobody", Home: "/home"}},
		{spec: "1:tty", want: User{UID: 1, GID: 5, AdditionalGids: []uint32{}, Name: "daemon", Home: "/usr/sbin"}},
		{spec: "2147483647", want: User{UID: MaxID, AdditionalGids: []uint32{}, Home: "/"}},
		{spec: "007", want: User{UID: 7, AdditionalGids: []uint32{}, Home: "/"}},
		// Supplementary groups by name, also with an explicit group
		// (CVE-2023-25173), deduplicated, tolerant of spaces.
		{spec: "alice", want: User{UID: 1001, GID: 1001, AdditionalGids: []uint32{4, 2000, 2001}, Name: "alice", Home: "/home/alice"}},
		{spec: "alice:users", want: User{UID: 1001, GID: 100, AdditionalGids: []uint32{4, 2000, 2001}, Name: "alice", Home: "/home/alice"}},
		{spec: "1001:1001", want: User{UID: 1001, GID: 1001, AdditionalGids: []uint32{4, 2000, 2001}, Name: "alice", Home: "/home/alice"}},
		{
			spec:  "alice",
			group: []byte("dev:x:2000:alice\ndev2:x:2000:alice\nbroken:x:-1:alice\nbad:x:99999999999:alice\n"),
			want:  User{UID: 1001, GID: 1001, AdditionalGids: []uint32{2000}, Name: "alice", Home: "/home/alice"},
		},
		// No files at all.
		{spec: "", noFiles: true, want: User{AdditionalGids: []uint32{}, Home: "/root"}},
		{spec: "0:0", noFiles: true, want: User{AdditionalGids: []uint32{}, Home: "/root"}},
		{spec: "root", noFiles: true, wantErr: ErrUserNotFound},
		{spec: "0:wheel", noFiles: true, wantErr: ErrGroupNotFound},
		// Unknown names.
		{spec: "ghost", wantErr: ErrUserNotFound},
		{spec: "root:ghosts", wantErr: ErrGroupNotFound},
		// Out of range or malformed (RELIABILITY C1).
		{spec: "4294967296", wantErr: ErrInvalidUser},
		{spec: "4294967296:0", wantErr: ErrInvalidUser},
		{spec: "2147483648:0", wantErr: ErrInvalidUser},
		{spec: "0:2147483648", wantErr: ErrInvalidUser},
		{spec: "0:4294967296", wantErr: ErrInvalidUser},
		{spec: "99999999999999999999999", wantErr: ErrInvalidUser},
		{spec: "-1", wantErr: ErrInvalidUser},
		{spec: "0:-1", wantErr: ErrInvalidUser},
		{spec: "+0", wantErr: ErrInvalidUser},
		{spec: ":0", wantErr: ErrInvalidUser},
		{spec: "0:", wantErr: ErrInvalidUser},
		{spec: ":", wantErr: ErrInvalidUser},
		{spec: "a:b:c", wantErr: ErrInvalidUser},
		{spec: "root\x00", wantErr: ErrInvalidUser},
		{spec: "root\n", wantErr: ErrInvalidUser},
		// A numeric-looking name is never looked up as a name: "1000" in
		// this passwd has uid 0, but "1000" means uid 1000.
		{
			spec:   "1000",
			passwd: []byte("1000:x:0:0:evil:/root:/bin/sh\n"),
			want:   User{UID: 1000, GID: 0, AdditionalGids: []uint32{}, Home: "/"},
		},
		{
			spec:    "4294967296",
			passwd:  []byte("4294967296:x:0:0:evil:/root:/bin/sh\n"),
			wantErr: ErrInvalidUser,
		},
		{
			spec:  "0:1000",
			group: []byte("1000:x:0:\n"),
			want:  User{UID: 0, GID: 1000, AdditionalGids: []uint32{}, Name: "root", Home: "/root"},
		},
		// A name whose passwd line has an out-of-range uid is refused, never
		// wrapped to root (containerd CVE-2024-40635).
		{spec: "evil", passwd: []byte("evil:x:4294967296:0::/:/bin/sh\n"), wantErr: ErrInvalidUser},
		{spec: "evil", passwd: []byte("evil:x:0:4294967296::/:/bin/sh\n"), wantErr: ErrInvalidUser},
		{spec: "root:evil", group: []byte("evil:x:4294967296:\n"), wantErr: ErrInvalidUser},
		// Tolerant parsing: comments, blank lines, CRLF, NIS lines, short
		// lines, a bad line before the good one, no trailing newline.
		{
			spec:   "svc",
			passwd: []byte("# comment\n\n+::::::\n-bad\nshort:x\nsvc:x:notanumber:1\r\nsvc:x:500:501:Svc:/srv\r\nx:\x00:1:1::/:/bin/sh\nlast:x:9:9::/l:/bin/sh"),
			group:  []byte("#c\nsvcs:x:600:svc\r\n"),
			want:   User{UID: 500, GID: 501, AdditionalGids: []uint32{600}, Name: "svc", Home: "/srv"},
		},
		{spec: "last", passwd: []byte("last:x:9:9::/l:/bin/sh"), want: User{UID: 9, GID: 9, AdditionalGids: []uint32{}, Name: "last", Home: "/l"}},
		// By uid, a malformed line is skipped; the first valid one wins.
		{
			spec:   "500",
			passwd: []byte("a:x:500:bad::/a:/bin/sh\nb:x:500:7::/b:/bin/sh\nc:x:500:8::/c:/bin/sh\n"),
			want:   User{UID: 500, GID: 7, AdditionalGids: []uint32{}, Name: "b", Home: "/b"},
		},
		// Empty home in the entry falls back.
		{spec: "h", passwd: []byte("h:x:3:3:::\n"), want: User{UID: 3, GID: 3, AdditionalGids: []uint32{}, Name: "h", Home: "/"}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			passwd, group := tc.passwd, tc.group
			if tc.noFiles {
				passwd, group = nil, nil
			} else {
				if passwd == nil {
					passwd = testPasswd
				}
				if group == nil {
					group = testGroup
				}
			}
			got, err := ResolveUser(tc.spec, passwd, group)
			checkErr(t, "ResolveUser("+tc.spec+")", err, tc.wantErr)
			if err == nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ResolveUser(%q) = %+v, want %+v", tc.spec, got, tc.want)
			}
		})
	}
}

func TestResolveUserSizeCap(t *testing.T) {
	huge := bytes.Repeat([]byte("x"), MaxIDFileSize+1)
	_, err := ResolveUser("0", huge, nil)
	checkErr(t, "ResolveUser(passwd of 4 MiB+1)", err, ErrFileTooLarge, "/etc/passwd")
	_, err = ResolveUser("0", nil, huge)
	checkErr(t, "ResolveUser(group of 4 MiB+1)", err, ErrFileTooLarge, "/etc/group")
	ok := append(bytes.Repeat([]byte("#"), MaxIDFileSize-len("\nroot:x:0:0::/r:/s")), []byte("\nroot:x:0:0::/r:/s")...)
	if u, err := ResolveUser("root", ok, nil); err != nil || u.Home != "/r" {
		t.Errorf("ResolveUser(passwd of exactly 4 MiB) = %+v, %v, want root with home /r", u, err)
	}
}

func TestGenerateUser(t *testing.T) {
	for _, tc := range []struct {
		name      string
		edit      func(*Options)
		uid, gid  uint32
		gids      []uint32
		wantErr   error
		errSubstr []string
	}{
		{name: "image user", edit: func(o *Options) { o.Image.User = "nobody" }, uid: 65534, gid: 65534},
		{name: "-u wins over the image", edit: func(o *Options) { o.Image.User = "nobody"; o.User = "alice" }, uid: 1001, gid: 1001, gids: []uint32{4, 2000, 2001}},
		{name: "highest mapped id", edit: func(o *Options) { o.User = "65536:65536" }, uid: 65536, gid: 65536},
		{
			name: "uid beyond the mapping", edit: func(o *Options) { o.User = "65537" },
			wantErr: ErrIDNotMapped, errSubstr: []string{"uid 65537", "maps 0 to 65536"},
		},
		{
			name: "gid beyond the mapping", edit: func(o *Options) { o.User = "0:70000" },
			wantErr: ErrIDNotMapped, errSubstr: []string{"gid 70000"},
		},
		{
			name:    "single-ID mode refuses a non-root user",
			edit:    func(o *Options) { o.User = "nobody"; o.MappedUIDs, o.MappedGIDs = 1, 1 },
			wantErr: ErrIDNotMapped, errSubstr: []string{"uid 65534", "/etc/subuid"},
		},
		{
			name:    "single-ID mode refuses a non-root image user",
			edit:    func(o *Options) { o.Image.User = "1000:1000"; o.MappedUIDs, o.MappedGIDs = 1, 1 },
			wantErr: ErrIDNotMapped, errSubstr: []string{"subordinate"},
		},
		{
			name: "single-ID mode drops unmapped supplementary groups",
			edit: func(o *Options) {
				o.MappedUIDs, o.MappedGIDs = 1, 1
				o.Group = []byte("root:x:0:root\nbin:x:1:root,bin\nwheel:x:10:root\n")
			},
			uid: 0, gid: 0, gids: []uint32{0},
		},
		{name: "unknown image user", edit: func(o *Options) { o.Image.User = "postgres" }, wantErr: ErrUserNotFound, errSubstr: []string{`"postgres"`}},
		{name: "huge image uid", edit: func(o *Options) { o.Image.User = "4294967296" }, wantErr: ErrInvalidUser},
		{name: "passwd too large", edit: func(o *Options) { o.Passwd = make([]byte, MaxIDFileSize+1) }, wantErr: ErrFileTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := generate(t, tc.edit)
			checkErr(t, "Generate()", err, tc.wantErr, tc.errSubstr...)
			if err != nil {
				return
			}
			u := s.Process.User
			if u.UID != tc.uid || u.GID != tc.gid || len(u.AdditionalGids) != len(tc.gids) ||
				(len(tc.gids) > 0 && !reflect.DeepEqual(u.AdditionalGids, tc.gids)) {
				t.Errorf("User = %d:%d %v, want %d:%d %v", u.UID, u.GID, u.AdditionalGids, tc.uid, tc.gid, tc.gids)
			}
		})
	}
}

func FuzzResolveUser(f *testing.F) {
	for _, s := range []string{"", "root", "0", "1000:1000", "alice:dev", "4294967296", "-1", "a:b:c", "+5", "1000"} {
		f.Add(s, testPasswd, testGroup)
	}
	f.Add("1000", []byte("1000:x:0:0::/:/bin/sh\n"), []byte{})
	f.Fuzz(func(t *testing.T, spec string, passwd, group []byte) {
		u, err := ResolveUser(spec, passwd, group)
		if err != nil {
			return
		}
		if u.UID > MaxID || u.GID > MaxID {
			t.Fatalf("ResolveUser(%q) = %d:%d, outside 0..%d", spec, u.UID, u.GID, MaxID)
		}
		for _, g := range u.AdditionalGids {
			if g > MaxID {
				t.Fatalf("ResolveUser(%q) supplementary gid %d outside 0..%d", spec, g, MaxID)
			}
		}
		// A numeric user part is the uid, whatever the passwd says.
		userPart, _, _ := cutColon(spec)
		if looksNumeric(userPart) {
			if id, err := parseID(userPart, "uid"); err != nil || id != u.UID {
				t.Fatalf("ResolveUser(%q).UID = %d, want the number itself", spec, u.UID)
			}
		}
	})
}

func cutColon(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
