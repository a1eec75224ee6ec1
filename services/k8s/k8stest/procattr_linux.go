package k8stest

import "syscall"

// procAttr makes the kernel kill a child when the test binary dies without running its
// cleanups (a panic, a timeout, SIGKILL), so no etcd or kube-apiserver outlives the test.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
