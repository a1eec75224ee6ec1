//go:build unix

package natsd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile is the name of the lock taken in the store directory.
const lockFile = "jetmesh.lock"

// lockStoreDir takes an exclusive, non-blocking flock on a file in dir. nats-server itself does
// not lock its store directory, and two servers writing one directory corrupt it. The kernel
// drops the lock when the process dies, so a crash never leaves a stale lock behind.
func lockStoreDir(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock store dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("store dir %s is used by another server", dir)
		}
		return nil, fmt.Errorf("lock store dir %s: %w", dir, err)
	}
	return f.Close, nil
}
