//go:build !linux

package k8stest

import "syscall"

// procAttr has nothing to add where the kernel cannot tie a child's life to its parent's.
func procAttr() *syscall.SysProcAttr { return nil }
