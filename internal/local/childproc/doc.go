// Package childproc holds the few operating-system calls the local stack
// makes about the processes it starts (dynalite, the Lambda Runtime Interface
// Emulator) and about the lock that serialises their installation.
//
// They differ per system: Linux can ask the kernel to kill a child when its
// parent dies; other Unix systems cannot, but still signal a whole process
// group; Windows has neither. Keeping them here, one file per system, lets
// `make dev` and `make test` compile on macOS and Windows as on Linux.
package childproc
