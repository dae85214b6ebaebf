package oci

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseUlimit(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    Ulimit
		wantErr error
	}{
		{spec: "nofile=1024", want: Ulimit{Name: "nofile", Soft: 1024, Hard: 1024}},
		{spec: "nofile=1024:2048", want: Ulimit{Name: "nofile", Soft: 1024, Hard: 2048}},
		{spec: "core=-1", want: Ulimit{Name: "core", Soft: RLimInfinity, Hard: RLimInfinity}},
		{spec: "core=unlimited:unlimited", want: Ulimit{Name: "core", Soft: RLimInfinity, Hard: RLimInfinity}},
		{spec: "core=0:-1", want: Ulimit{Name: "core", Soft: 0, Hard: RLimInfinity}},
		{spec: "stack=8388608", want: Ulimit{Name: "stack", Soft: 8 << 20, Hard: 8 << 20}},
		{spec: "rttime=18446744073709551614", want: Ulimit{Name: "rttime", Soft: RLimInfinity - 1, Hard: RLimInfinity - 1}},
		{spec: "nofile", wantErr: ErrInvalidUlimit},
		{spec: "nofile=", wantErr: ErrInvalidUlimit},
		{spec: "=1", wantErr: ErrInvalidUlimit},
		{spec: "foo=1", wantErr: ErrInvalidUlimit},
		{spec: "NOFILE=1", wantErr: ErrInvalidUlimit},
		{spec: "nofile=2048:1024", wantErr: ErrInvalidUlimit},
		{spec: "nofile=-1:1024", wantErr: ErrInvalidUlimit},
		{spec: "nofile=abc", wantErr: ErrInvalidUlimit},
		{spec: "nofile=-2", wantErr: ErrInvalidUlimit},
		{spec: "nofile=+5", wantErr: ErrInvalidUlimit},
		{spec: "nofile=1:", wantErr: ErrInvalidUlimit},
		{spec: "nofile=1:2:3", wantErr: ErrInvalidUlimit},
		{spec: "nofile=18446744073709551616", wantErr: ErrInvalidUlimit},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseUlimit(tc.spec)
			checkErr(t, "ParseUlimit("+tc.spec+")", err, tc.wantErr)
			if err == nil && got != tc.want {
				t.Errorf("ParseUlimit(%q) = %+v, want %+v", tc.spec, got, tc.want)
			}
		})
	}
	for name := range rlimitTypes {
		if _, err := ParseUlimit(name + "=1:2"); err != nil {
			t.Errorf("ParseUlimit(%s=1:2) = %v, want nil", name, err)
		}
	}
}

func TestRlimits(t *testing.T) {
	host := map[string]Ulimit{"nofile": {Soft: 1024, Hard: 524288}, "nproc": {Soft: 100, Hard: 200}}
	for _, tc := range []struct {
		name      string
		ulimits   []Ulimit
		host      map[string]Ulimit
		want      []specs.POSIXRlimit
		wantErr   error
		errSubstr []string
	}{
		{name: "nofile inherited from the caller", host: host, want: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 524288}}},
		{name: "nothing known", want: nil},
		{
			name: "RLIMIT_ key spelling", host: map[string]Ulimit{"RLIMIT_NOFILE": {Soft: 1, Hard: 2}},
			want: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}},
		},
		{
			name: "--ulimit nofile replaces the inherited one", host: host,
			ulimits: []Ulimit{{Name: "nofile", Soft: 4096, Hard: 8192}},
			want:    []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 4096, Hard: 8192}},
		},
		{
			name: "up to the hard limit", host: host,
			ulimits: []Ulimit{{Name: "nofile", Soft: 524288, Hard: 524288}, {Name: "nproc", Soft: 200, Hard: 200}},
			want:    []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 524288, Hard: 524288}, {Type: "RLIMIT_NPROC", Soft: 200, Hard: 200}},
		},
		{
			name: "a later --ulimit of the same type wins", host: host,
			ulimits: []Ulimit{{Name: "core", Soft: 1, Hard: 1}, {Name: "nproc", Soft: 5, Hard: 5}, {Name: "core", Soft: 0, Hard: 0}},
			want: []specs.POSIXRlimit{
				{Type: "RLIMIT_CORE", Soft: 0, Hard: 0}, {Type: "RLIMIT_NPROC", Soft: 5, Hard: 5},
				{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 524288},
			},
		},
		{
			name: "no host value: not checked", ulimits: []Ulimit{{Name: "memlock", Soft: RLimInfinity, Hard: RLimInfinity}},
			want: []specs.POSIXRlimit{{Type: "RLIMIT_MEMLOCK", Soft: RLimInfinity, Hard: RLimInfinity}},
		},
		{
			name: "above the hard limit", host: host, ulimits: []Ulimit{{Name: "nofile", Soft: 1024, Hard: 1048576}},
			wantErr: ErrUlimitAboveHardLimit, errSubstr: []string{"nofile", "1048576", "524288", "rootless"},
		},
		{
			name: "unlimited above a finite hard limit", host: host, ulimits: []Ulimit{{Name: "nproc", Soft: RLimInfinity, Hard: RLimInfinity}},
			wantErr: ErrUlimitAboveHardLimit, errSubstr: []string{"nproc", "unlimited", "200"},
		},
		{name: "unknown type", ulimits: []Ulimit{{Name: "bogus", Soft: 1, Hard: 1}}, wantErr: ErrInvalidUlimit},
		{name: "soft above hard", ulimits: []Ulimit{{Name: "core", Soft: 2, Hard: 1}}, wantErr: ErrInvalidUlimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := generate(t, func(o *Options) { o.Ulimits, o.HostRlimits = tc.ulimits, tc.host })
			checkErr(t, "Generate()", err, tc.wantErr, tc.errSubstr...)
			if err == nil && !reflect.DeepEqual(s.Process.Rlimits, tc.want) {
				t.Errorf("Rlimits = %+v, want %+v", s.Process.Rlimits, tc.want)
			}
		})
	}
}
