//go:build !linux

package local

import "syscall"

// functionProcAttr puts a function in its own process group. Only Linux has a parent-death
// signal; elsewhere the functions of a killed stack must be stopped by hand.
func functionProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// DieWithParent is a no-op where the kernel has no parent-death signal.
func DieWithParent() error { return nil }
