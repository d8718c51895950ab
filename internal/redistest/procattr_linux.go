package redistest

import "syscall"

// procAttr makes the kernel kill redis-server when the thread that started
// it exits. The Go runtime keeps its threads for the life of the process,
// so in practice a crashed test leaves no server behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
