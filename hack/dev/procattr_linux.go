package main

import "syscall"

// childProcAttr puts a child in its own process group (so signals to -pid reach its
// descendants and Ctrl-C in the terminal reaches only us) and asks the kernel to SIGKILL
// it if we die without cleaning up (kill -9, a crash), so no etcd or apiserver is left
// holding ports. Pdeathsig fires when the forking OS thread exits; the Go runtime does
// not retire threads that did not call LockOSThread, so in practice that is our exit.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
