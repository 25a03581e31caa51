//go:build linux

package main

import "syscall"

// sysProcAttr makes the kernel kill a node when chatsoak dies, so that an
// interrupted run leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
