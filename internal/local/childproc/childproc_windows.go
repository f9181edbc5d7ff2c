//go:build windows

package childproc

import (
	"os"
	"os/exec"

	"golang.org/x/sys/windows"
)

// Detach does nothing on Windows: there are no process groups to signal.
func Detach(cmd *exec.Cmd) {}

// Terminate stops the child. Windows has no SIGTERM, so it is Kill.
func Terminate(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

// Kill stops the child at once.
func Kill(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

// Lock takes an exclusive lock on f, waiting for it.
func Lock(f *os.File) error {
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, new(windows.Overlapped))
}

// TryLock takes an exclusive lock on f if no one holds it, and reports
// whether it did.
func TryLock(f *os.File) (bool, error) {
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, new(windows.Overlapped))
	if err == windows.ERROR_LOCK_VIOLATION {
		return false, nil
	}
	return err == nil, err
}

// Unlock releases the lock Lock or TryLock took.
func Unlock(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}
