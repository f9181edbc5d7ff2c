//go:build linux

package childproc

import (
	"os/exec"
	"syscall"
)

// Detach starts cmd in its own process group, so Terminate and Kill reach
// its children, and has the kernel kill it when this process dies, so a
// crashed test binary leaves no server behind.
func Detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
