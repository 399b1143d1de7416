package master

import (
	"net"
	"sync"
	"time"
)

// Bad-token throttling: each failed token from an address delays that address's
// next refusal, doubling from authDelayBase up to authDelayMax, so guessing tokens
// costs an attacker time while a client that mistyped one is barely slowed. The
// record of an address is forgotten authForget after its last failure.
const (
	authDelayBase = 100 * time.Millisecond
	authDelayMax  = 5 * time.Second
	authForget    = 10 * time.Minute
	// authMaxAddrs bounds the memory of the table under a spray of addresses.
	authMaxAddrs = 10000
)

type authFailures struct {
	count int
	last  time.Time
}

// authLimiter tracks failed tokens per source address.
type authLimiter struct {
	mu    sync.Mutex
	addrs map[string]*authFailures
	now   func() time.Time
}

func newAuthLimiter() *authLimiter {
	return &authLimiter{addrs: map[string]*authFailures{}, now: time.Now}
}

// failed records a failed token from remote and returns how long to wait before
// answering it, and how many failures in a row the address has.
func (l *authLimiter) failed(remote string) (time.Duration, int) {
	host := hostOf(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.addrs[host]
	if f == nil || now.Sub(f.last) > authForget {
		if len(l.addrs) >= authMaxAddrs {
			l.forgetOldLocked(now)
		}
		f = &authFailures{}
		l.addrs[host] = f
	}
	f.count++
	f.last = now
	if f.count == 1 {
		return 0, 1
	}
	delay := authDelayBase << min(f.count-2, 16)
	return min(delay, authDelayMax), f.count
}

// succeeded forgets an address's failures once it presents a good token.
func (l *authLimiter) succeeded(remote string) {
	host := hostOf(remote)
	l.mu.Lock()
	delete(l.addrs, host)
	l.mu.Unlock()
}

// forgetOldLocked drops expired records, or all of them if none has expired: a
// flood from many addresses then costs memory only up to the bound.
func (l *authLimiter) forgetOldLocked(now time.Time) {
	for h, f := range l.addrs {
		if now.Sub(f.last) > authForget {
			delete(l.addrs, h)
		}
	}
	if len(l.addrs) >= authMaxAddrs {
		clear(l.addrs)
	}
}

func hostOf(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}
