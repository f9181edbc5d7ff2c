//go:build unix && !linux

package childproc

import (
	"os/exec"
	"syscall"
)

// Detach starts cmd in its own process group, so Terminate and Kill reach
// its children. These systems have no parent-death signal: a child outlives
// a parent killed with SIGKILL, as it would without this package.
func Detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
