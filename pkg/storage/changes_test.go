package storage

import (
	"reflect"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestApplyChanges(t *testing.T) {
	tests := []struct {
		name    string
		start   ocispec.ImageConfig
		changes []string
		want    ocispec.ImageConfig
	}{
		{
			name:    "CMD JSON form",
			changes: []string{`CMD ["/bin/echo", "hello world"]`},
			want:    ocispec.ImageConfig{Cmd: []string{"/bin/echo", "hello world"}},
		},
		{
			name:    "CMD shell form",
			changes: []string{"CMD echo hello && sleep 1"},
			want:    ocispec.ImageConfig{Cmd: []string{"/bin/sh", "-c", "echo hello && sleep 1"}},
		},
		{
			name:    "CMD with = separator",
			changes: []string{"CMD=/bin/sh"},
			want:    ocispec.ImageConfig{Cmd: []string{"/bin/sh", "-c", "/bin/sh"}},
		},
		{
			name:    "CMD with = separator and JSON",
			changes: []string{`CMD=["/bin/sh"]`},
			want:    ocispec.ImageConfig{Cmd: []string{"/bin/sh"}},
		},
		{
			name:    "broken JSON falls back to the shell form",
			changes: []string{`CMD ["/bin/sh"`},
			want:    ocispec.ImageConfig{Cmd: []string{"/bin/sh", "-c", `["/bin/sh"`}},
		},
		{
			name:    "lower-case instruction and tab separator",
			changes: []string{"cmd\t[\"top\"]"},
			want:    ocispec.ImageConfig{Cmd: []string{"top"}},
		},
		{
			name:    "ENTRYPOINT JSON form",
			changes: []string{`ENTRYPOINT ["/entrypoint.sh", "--flag"]`},
			want:    ocispec.ImageConfig{Entrypoint: []string{"/entrypoint.sh", "--flag"}},
		},
		{
			name:    "ENTRYPOINT shell form",
			changes: []string{"ENTRYPOINT exec /app"},
			want:    ocispec.ImageConfig{Entrypoint: []string{"/bin/sh", "-c", "exec /app"}},
		},
		{
			name:    "later CMD replaces earlier",
			start:   ocispec.ImageConfig{Cmd: []string{"old"}},
			changes: []string{`CMD ["a"]`, `CMD ["b"]`},
			want:    ocispec.ImageConfig{Cmd: []string{"b"}},
		},
		{
			name:    "ENV KEY=VALUE pairs",
			changes: []string{"ENV A=1 B=two"},
			want:    ocispec.ImageConfig{Env: []string{"A=1", "B=two"}},
		},
		{
			name:    "ENV legacy KEY VALUE form keeps spaces",
			changes: []string{"ENV GREETING hello  big world"},
			want:    ocispec.ImageConfig{Env: []string{"GREETING=hello  big world"}},
		},
		{
			name:    "ENV quoted values",
			changes: []string{`ENV MSG="hello world" SQ='a b' EMPTY=""`},
			want:    ocispec.ImageConfig{Env: []string{"MSG=hello world", "SQ=a b", "EMPTY="}},
		},
		{
			name:    "ENV with = separator",
			changes: []string{"ENV=PATH=/bin"},
			want:    ocispec.ImageConfig{Env: []string{"PATH=/bin"}},
		},
		{
			name:    "ENV overrides an existing key in place",
			start:   ocispec.ImageConfig{Env: []string{"PATH=/usr/bin", "HOME=/root"}},
			changes: []string{"ENV PATH=/bin:/usr/bin", "ENV NEW=x"},
			want:    ocispec.ImageConfig{Env: []string{"PATH=/bin:/usr/bin", "HOME=/root", "NEW=x"}},
		},
		{
			name:    "ENV key that is a prefix of another is a different key",
			start:   ocispec.ImageConfig{Env: []string{"PATHX=1"}},
			changes: []string{"ENV PATH=/bin"},
			want:    ocispec.ImageConfig{Env: []string{"PATHX=1", "PATH=/bin"}},
		},
		{
			name:    "ENV value containing =",
			changes: []string{"ENV OPTS=a=b"},
			want:    ocispec.ImageConfig{Env: []string{"OPTS=a=b"}},
		},
		{
			name:    "LABEL pairs",
			changes: []string{`LABEL version="1.0 beta" maintainer=me`},
			want:    ocispec.ImageConfig{Labels: map[string]string{"version": "1.0 beta", "maintainer": "me"}},
		},
		{
			name:    "LABEL adds to existing labels",
			start:   ocispec.ImageConfig{Labels: map[string]string{"a": "1", "b": "2"}},
			changes: []string{"LABEL b=3"},
			want:    ocispec.ImageConfig{Labels: map[string]string{"a": "1", "b": "3"}},
		},
		{
			name:    "EXPOSE defaults to tcp",
			changes: []string{"EXPOSE 80 443/tcp 53/udp"},
			want:    ocispec.ImageConfig{ExposedPorts: map[string]struct{}{"80/tcp": {}, "443/tcp": {}, "53/udp": {}}},
		},
		{
			name:    "VOLUME JSON form",
			changes: []string{`VOLUME ["/data", "/var/log"]`},
			want:    ocispec.ImageConfig{Volumes: map[string]struct{}{"/data": {}, "/var/log": {}}},
		},
		{
			name:    "VOLUME plain form",
			changes: []string{"VOLUME /data /cache"},
			want:    ocispec.ImageConfig{Volumes: map[string]struct{}{"/data": {}, "/cache": {}}},
		},
		{
			name:    "USER",
			changes: []string{"USER 1000:1000"},
			want:    ocispec.ImageConfig{User: "1000:1000"},
		},
		{
			name:    "WORKDIR absolute",
			changes: []string{"WORKDIR /srv/app"},
			want:    ocispec.ImageConfig{WorkingDir: "/srv/app"},
		},
		{
			name:    "STOPSIGNAL",
			changes: []string{"STOPSIGNAL SIGINT"},
			want:    ocispec.ImageConfig{StopSignal: "SIGINT"},
		},
		{
			name:    "surrounding whitespace is ignored",
			changes: []string{"  USER   nobody  "},
			want:    ocispec.ImageConfig{User: "nobody"},
		},
		{
			name:    "no changes leave the config alone",
			start:   ocispec.ImageConfig{User: "root", Env: []string{"A=1"}},
			changes: nil,
			want:    ocispec.ImageConfig{User: "root", Env: []string{"A=1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.start
			if err := ApplyChanges(&cfg, tt.changes); err != nil {
				t.Fatalf("ApplyChanges(%q) error = %v, want nil", tt.changes, err)
			}
			if !reflect.DeepEqual(cfg, tt.want) {
				t.Errorf("ApplyChanges(%q) = %+v, want %+v", tt.changes, cfg, tt.want)
			}
		})
	}
}

func TestApplyChangesInvalid(t *testing.T) {
	tests := []struct {
		name   string
		change string
		want   string // substring of the error
	}{
		{"WORKDIR relative", "WORKDIR srv/app", `WORKDIR "srv/app" is not an absolute path`},
		{"VOLUME relative", "VOLUME data", `volume "data" is not an absolute path`},
		{"VOLUME JSON relative", `VOLUME ["/ok", "rel"]`, `volume "rel" is not an absolute path`},
		{"unsupported instruction", "RUN apt-get update", "unsupported instruction RUN"},
		{"unsupported with = separator", "ADD=x /x", "unsupported instruction ADD"},
		{"instruction without argument", "CMD", "want INSTRUCTION ARGUMENTS"},
		{"instruction with blank argument", "CMD=  ", "CMD needs an argument"},
		{"empty change", "", "want INSTRUCTION ARGUMENTS"},
		{"ENV unterminated quote", `ENV A="open`, "unterminated quote"},
		{"ENV without =", "ENV A=1 B", `want KEY=VALUE, got "B"`},
		{"ENV empty key", "ENV =x", "want KEY=VALUE"},
		{"LABEL without =", "LABEL a=1 b", `want KEY=VALUE, got "b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ocispec.ImageConfig{}
			err := ApplyChanges(&cfg, []string{"USER root", tt.change})
			if err == nil {
				t.Fatalf("ApplyChanges(%q) = nil, want an error containing %q", tt.change, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ApplyChanges(%q) error = %q, want it to contain %q", tt.change, err, tt.want)
			}
			if !strings.Contains(err.Error(), "invalid change") {
				t.Errorf("ApplyChanges(%q) error = %q, want it to say which change is invalid", tt.change, err)
			}
		})
	}
}
