//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package broker

import (
	"sync"
	"syscall"
)

// privateUmask leaves files 0600 and directories 0700 whatever mode their
// creator asks for.
const privateUmask = 0o077

var umask struct {
	sync.Mutex
	servers int // running Servers
	saved   int // the umask before the first of them
}

// restrictFileModes makes the files created from now on private to the
// user running the broker: kfake creates its segments, indexes and state
// files 0644 and its directories 0755, with no option to change that, so
// the process umask is narrowed to 077 while any Server runs; the returned
// function gives the previous umask back when the last one stops. The
// umask is process-wide: in the devkafka binary nothing else creates
// files, and a test process that embeds a broker gets private files too.
func restrictFileModes() (restore func()) {
	umask.Lock()
	defer umask.Unlock()
	if umask.servers == 0 {
		umask.saved = syscall.Umask(privateUmask)
	}
	umask.servers++
	var once sync.Once
	return func() {
		once.Do(func() {
			umask.Lock()
			defer umask.Unlock()
			umask.servers--
			if umask.servers == 0 {
				syscall.Umask(umask.saved)
			}
		})
	}
}
