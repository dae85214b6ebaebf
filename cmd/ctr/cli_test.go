package main

import (
	"io"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
)

// commandTree returns the path (without "ctr") of every command in the tree,
// including cobra's help and completion commands, parents first.
func commandTree(t *testing.T) [][]string {
	t.Helper()
	root := newRootCommand(nil, strings.NewReader(""), io.Discard, io.Discard)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(root, nil)
	return paths
}

func findCommand(t *testing.T, path []string) *cobra.Command {
	t.Helper()
	root := newRootCommand(nil, strings.NewReader(""), io.Discard, io.Discard)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	c, rest, err := root.Find(path)
	if err != nil || len(rest) != 0 {
		t.Fatalf("Find(%q) = %v, %q, %v", path, c, rest, err)
	}
	return c
}

func displayPath(path []string) string {
	return strings.Join(append([]string{"ctr"}, path...), " ")
}

// TestHelp walks every command, as podman's 015-help.bats does: --help and
// `ctr help CMD` exit 0 and print usage, and nothing goes to stderr.
func TestHelp(t *testing.T) {
	isolate(t)
	paths := commandTree(t)
	if len(paths) < 15 {
		t.Fatalf("the command tree has %d commands, want the whole tree", len(paths))
	}
	for _, path := range paths {
		t.Run(displayPath(path), func(t *testing.T) {
			cmd := findCommand(t, path)
			invocations := [][]string{append(append([]string(nil), path...), "--help")}
			if len(path) > 0 && path[0] != "help" {
				invocations = append(invocations, append([]string{"help"}, path...))
			}
			for _, args := range invocations {
				r := runCtr(t, args...)
				if r.code != 0 {
					t.Errorf("ctr %s exit = %d, want 0 (stderr %q)", strings.Join(args, " "), r.code, r.stderr)
				}
				if !strings.Contains(r.stdout, "Usage:") {
					t.Errorf("ctr %s stdout = %q, want it to contain %q", strings.Join(args, " "), r.stdout, "Usage:")
				}
				if cmd.Runnable() && !strings.Contains(r.stdout, cmd.UseLine()) {
					t.Errorf("ctr %s stdout does not show the usage line %q", strings.Join(args, " "), cmd.UseLine())
				}
				if r.stderr != "" {
					t.Errorf("ctr %s stderr = %q, want nothing", strings.Join(args, " "), r.stderr)
				}
			}
		})
	}
}

// TestUseLines checks each command's Use line: it starts with the command's
// lower-case name, and "[options]" comes before any argument.
func TestUseLines(t *testing.T) {
	for _, path := range commandTree(t) {
		cmd := findCommand(t, path)
		fields := strings.Fields(cmd.Use)
		if len(fields) == 0 {
			t.Errorf("%s: Use = %q, want it to start with the command name", displayPath(path), cmd.Use)
			continue
		}
		name := fields[0]
		if name != cmd.Name() {
			t.Errorf("%s: Use = %q, want it to start with %q", displayPath(path), cmd.Use, cmd.Name())
		}
		if strings.IndexFunc(name, unicode.IsUpper) >= 0 {
			t.Errorf("%s: Use = %q, want a lower-case command name", displayPath(path), cmd.Use)
		}
		for i, f := range fields {
			if f == "[options]" && i != 1 {
				t.Errorf("%s: Use = %q, want [options] right after the command name", displayPath(path), cmd.Use)
			}
		}
		if cmd.Short == "" {
			t.Errorf("%s: Short is empty, want a one-line summary", displayPath(path))
		}
	}
}

// TestNoArgCommandsRejectArguments checks, without running anything, that a
// runnable command whose Use line names no argument refuses one.
func TestNoArgCommandsRejectArguments(t *testing.T) {
	for _, path := range commandTree(t) {
		cmd := findCommand(t, path)
		fields := strings.Fields(cmd.Use)
		if !cmd.Runnable() || len(fields) > 2 || (len(fields) == 2 && fields[1] != "[options]") {
			continue
		}
		if err := cmd.ValidateArgs([]string{"extra-argument"}); err == nil {
			t.Errorf("%s: ValidateArgs([extra-argument]) = nil, want an error (Use %q takes no arguments)", displayPath(path), cmd.Use)
		}
	}

	r := runCtr(t, "version", "extra-argument")
	if r.code != exitCtrFailed || !strings.HasPrefix(r.stderr, "Error: ") {
		t.Errorf("ctr version extra-argument = %d, stderr %q, want %d and an error", r.code, r.stderr, exitCtrFailed)
	}
}

func TestFlagErrors(t *testing.T) {
	isolate(t)
	tests := []struct {
		args []string
		want string // the end of stderr
		msg  string // a substring of stderr
	}{
		{[]string{"--bogus"}, "See 'ctr --help'", "unknown flag: --bogus"},
		{[]string{"pull", "--bogus", "busybox"}, "See 'ctr pull --help'", "unknown flag: --bogus"},
		{[]string{"pull", "-Z", "busybox"}, "See 'ctr pull --help'", "unknown shorthand flag: 'Z'"},
		{[]string{"pull", "--tls-verify=maybe", "busybox"}, "See 'ctr pull --help'", "invalid argument"},
		{[]string{"pull"}, "See 'ctr pull --help'", "accepts between 1 and 1 arg(s), received 0"},
		{[]string{"pull", "a", "b"}, "See 'ctr pull --help'", "accepts between 1 and 1 arg(s), received 2"},
		{[]string{"image", "pull", "--bogus", "busybox"}, "See 'ctr image pull --help'", "unknown flag: --bogus"},
		{[]string{"images", "--bogus"}, "See 'ctr images --help'", "unknown flag: --bogus"},
		{[]string{"image", "ls", "--bogus"}, "See 'ctr image ls --help'", "unknown flag: --bogus"},
		{[]string{"rmi", "--bogus", "x"}, "See 'ctr rmi --help'", "unknown flag: --bogus"},
		{[]string{"tag", "--bogus"}, "See 'ctr tag --help'", "unknown flag: --bogus"},
		{[]string{"tag", "busybox"}, "See 'ctr tag --help'", "requires at least 2 arg(s)"},
		{[]string{"import"}, "See 'ctr import --help'", "accepts between 1 and 2 arg(s)"},
		{[]string{"system", "reset", "--bogus"}, "See 'ctr system reset --help'", "unknown flag: --bogus"},
		{[]string{"version", "--bogus"}, "See 'ctr version --help'", "unknown flag: --bogus"},
		{[]string{"--log-level=loud", "version"}, "See 'ctr version --help'", `invalid --log-level "loud"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCtr(t, tt.args...)
			if r.code != exitCtrFailed {
				t.Errorf("ctr %q exit = %d, want %d (stderr %q)", tt.args, r.code, exitCtrFailed, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("ctr %q stderr = %q, want \"Error: \" and %q", tt.args, r.stderr, tt.msg)
			}
			if got := strings.TrimRight(r.stderr, "\n"); !strings.HasSuffix(got, tt.want) {
				t.Errorf("ctr %q stderr = %q, want it to end with %q", tt.args, r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("ctr %q stdout = %q, want nothing", tt.args, r.stdout)
			}
		})
	}
}

// TestBadReferencesTouchNothing checks that invalid image names are refused
// by argument validation, before the user namespace or the store.
func TestBadReferencesTouchNothing(t *testing.T) {
	dirs := isolate(t)
	badRefs := []string{
		"foo/../../x", "a//b", "-x", "UPPER/case", "host:99999/x", "host:0/x", "",
		"sha256:abc", strings.Repeat("a", 300), "a:b:c",
	}
	type invocation struct {
		name string
		args []string
	}
	var tests []invocation
	for _, ref := range badRefs {
		tests = append(tests,
			invocation{"pull " + ref, []string{"pull", "--", ref}},
			invocation{"image pull " + ref, []string{"image", "pull", "--", ref}},
			invocation{"tag img " + ref, []string{"tag", "--", "img", ref}},
			invocation{"import file " + ref, []string{"import", "--", "rootfs.tar", ref}},
		)
	}
	for _, tt := range tests {
		name := tt.name
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			r := runCtr(t, tt.args...)
			if r.code != exitCtrFailed {
				t.Errorf("ctr %q exit = %d, want %d (stderr %q)", tt.args, r.code, exitCtrFailed, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "Error: invalid reference") {
				t.Errorf("ctr %q stderr = %q, want it to start with %q", tt.args, r.stderr, "Error: invalid reference")
			}
			if r.stdout != "" {
				t.Errorf("ctr %q stdout = %q, want nothing", tt.args, r.stdout)
			}
			dirs.assertUntouched(t, "ctr "+strings.Join(tt.args, " "))
		})
	}
}

func TestImportChangeValidatedFirst(t *testing.T) {
	dirs := isolate(t)
	for _, change := range []string{"RUN make", "WORKDIR relative", `ENV A="unterminated`} {
		args := []string{"import", "--change", change, "rootfs.tar", "myimage"}
		r := runCtr(t, args...)
		if r.code != exitCtrFailed || !strings.Contains(r.stderr, "invalid change") {
			t.Errorf("ctr %q = %d, stderr %q, want %d and \"invalid change\"", args, r.code, r.stderr, exitCtrFailed)
		}
	}
	dirs.assertUntouched(t, "ctr import --change")
}

func TestVersion(t *testing.T) {
	isolate(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"version"}, []string{"Version:      " + version + "\n", "Go Version:", "OS/Arch:"}},
		{[]string{"version", "--format", "json"}, []string{`"Version": "` + version + `"`, `"GoVersion": "go`}},
		{[]string{"version", "--format", "{{.Version}}"}, []string{version + "\n"}},
		{[]string{"--version"}, []string{"ctr version " + version + "\n"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCtr(t, tt.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("ctr %q = %d, stderr %q, want 0 and no stderr", tt.args, r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("ctr %q stdout = %q, want it to contain %q", tt.args, r.stdout, w)
				}
			}
		})
	}

	r := runCtr(t, "version", "--format", "{{.Nope}}")
	if r.code != exitCtrFailed || !strings.Contains(r.stderr, "invalid --format template") {
		t.Errorf("ctr version --format {{.Nope}} = %d, stderr %q, want %d and \"invalid --format template\"", r.code, r.stderr, exitCtrFailed)
	}
}
