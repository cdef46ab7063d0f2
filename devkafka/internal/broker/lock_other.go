//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package broker

// lockDir does nothing on platforms without flock: there, nothing stops two
// devkafka processes from sharing a data directory.
func lockDir(string) (unlock func() error, err error) {
	return func() error { return nil }, nil
}
