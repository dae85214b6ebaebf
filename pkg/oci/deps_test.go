package oci

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLeafAndPure enforces the package contract (doc.go): no other ctr
// package, and none of the standard packages that would let it touch the
// system.
func TestLeafAndPure(t *testing.T) {
	forbidden := []string{
		"os", "os/exec", "os/user", "os/signal", "syscall", "io/ioutil", "net", "net/http", "unsafe",
		"golang.org/x/sys/unix", "github.com/spf13/cobra", "github.com/spf13/pflag",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/ctr-project/ctr/") {
				t.Errorf("%s imports %s: pkg/oci is a leaf and imports no other ctr package", file, p)
			}
			for _, bad := range forbidden {
				if p == bad {
					t.Errorf("%s imports %s: pkg/oci does no system calls and no I/O", file, p)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}
