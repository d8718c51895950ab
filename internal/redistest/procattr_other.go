//go:build !linux

package redistest

import "syscall"

// procAttr returns nil: only Linux can tie the server's life to the test
// process, so elsewhere a crashed test may leave redis-server running.
func procAttr() *syscall.SysProcAttr {
	return nil
}
