//go:build !unix

package natsd

// lockStoreDir is a no-op where flock is unavailable.
func lockStoreDir(string) (func() error, error) { return func() error { return nil }, nil }
