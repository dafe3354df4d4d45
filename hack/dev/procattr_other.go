//go:build !linux

package main

import "syscall"

// childProcAttr puts a child in its own process group. Without Linux's Pdeathsig a
// child outlives a kill -9 of this program; a normal exit or Ctrl-C still stops it.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
