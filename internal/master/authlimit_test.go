package master

import (
	"testing"
	"time"
)

func TestAuthLimiter(t *testing.T) {
	l := newAuthLimiter()
	clock := time.Unix(1_000_000, 0)
	l.now = func() time.Time { return clock }
	want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	for i, w := range want {
		if d, n := l.failed("192.0.2.1:4000"); d != w || n != i+1 {
			t.Errorf("failure %d: delay %s (count %d), want %s", i+1, d, n, w)
		}
	}
	for range 20 {
		l.failed("192.0.2.1:4001") // another port, the same address
	}
	if d, _ := l.failed("192.0.2.1:4002"); d != authDelayMax {
		t.Errorf("delay after many failures %s, want the %s cap", d, authDelayMax)
	}
	if d, _ := l.failed("198.51.100.7:1"); d != 0 {
		t.Errorf("another address pays for the first: %s", d)
	}
	l.succeeded("192.0.2.1:5000")
	if d, _ := l.failed("192.0.2.1:4000"); d != 0 {
		t.Errorf("after a good token the delay is %s", d)
	}
	l.failed("192.0.2.1:4000")
	clock = clock.Add(authForget + time.Second)
	if d, n := l.failed("192.0.2.1:4000"); d != 0 || n != 1 {
		t.Errorf("after %s the address is still remembered: %s, %d", authForget, d, n)
	}
}

func TestAuthLimiterIsBounded(t *testing.T) {
	l := newAuthLimiter()
	for i := range authMaxAddrs + 10 {
		l.failed(string(rune(i)) + ":1")
	}
	if len(l.addrs) > authMaxAddrs {
		t.Errorf("%d addresses remembered, bound %d", len(l.addrs), authMaxAddrs)
	}
}
