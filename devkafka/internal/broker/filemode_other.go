//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package broker

// restrictFileModes does nothing where there is no umask: files keep the
// modes kfake gives them.
func restrictFileModes() (restore func()) { return func() {} }
