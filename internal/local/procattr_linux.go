package local

import "syscall"

// functionProcAttr puts a function in its own process group (Ctrl-C reaches the stack, which
// stops the functions in order) and has the kernel kill it if the stack dies without stopping
// it, even by SIGKILL: a function never outlives its stack, as a pod does not outlive its node.
func functionProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// DieWithParent asks the kernel to send this process SIGTERM when its parent dies (under
// `go run`, the go command), so that the stack, and with it every function, stops too. Strictly,
// the signal comes when the parent's thread that started this process ends: a Go parent (the
// bench) keeps that thread locked while this process runs.
func DieWithParent() error {
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
	if errno != 0 {
		return errno
	}
	return nil
}
