package main

import (
	"os"
	"syscall"
)

// stopWithParent asks the kernel to send SIGTERM when the parent process
// dies, so that `make dev` stopped by SIGTERM (make does not pass it on to
// its children) still stops this process and, through it, dynalite.
func stopWithParent() {
	const prSetPdeathsig = 1
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetPdeathsig, uintptr(syscall.SIGTERM), 0)
	if os.Getppid() == 1 {
		// The parent died before the request took effect.
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
}
