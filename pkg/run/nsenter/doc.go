// Package nsenter joins a running container's namespaces for run.Exec. It
// has no API: a binary that calls run.Exec must import it for its side
// effect, a C constructor that runs before the Go runtime starts,
//
//	import _ "github.com/ctr-project/ctr/pkg/run/nsenter"
//
// and register run.ExecInit under run.ExecName with its re-exec dispatcher.
//
// Why C: setns(2) into a user namespace refuses a multi-threaded process,
// and mount namespaces likewise, while the Go runtime has threads before
// main runs. Joining a PID namespace applies only to children, and a
// process that joined one may not create threads, so the joiner must fork
// too, before any Go code runs. runc's libcontainer/nsenter does the same.
//
// The constructor does nothing unless the process was started by run.Exec
// (it is told by the environment). Without cgo this package is empty, and
// run.ExecInit refuses to run because it finds itself outside the
// container's namespaces.
package nsenter
