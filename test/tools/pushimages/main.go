// Command pushimages writes ctr's hermetic test images to a registry:
// busybox, a multi-layer image with owned files and whiteouts, and a
// two-platform index. The benchmark and manual testing use it.
//
//	go run ./test/tools/pushimages 127.0.0.1:5000
package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/ctr-project/ctr/internal/testutil"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: pushimages REGISTRY_HOST:PORT")
		os.Exit(2)
	}
	if err := testutil.PushTestImages(os.Args[1], runtime.GOARCH); err != nil {
		fmt.Fprintln(os.Stderr, "pushimages:", err)
		os.Exit(1)
	}
}
